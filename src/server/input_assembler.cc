#include "server/input_assembler.h"

#include <cstring>

#include "server/base64.h"
#include "server/tensor_rows.h"

namespace kiln::server {

namespace od = simdjson::ondemand;

std::optional<std::string> read_b64_object(od::value value, const std::string& what, Status* status) {
  od::json_type type;
  if (value.type().get(type) || type != od::json_type::object) return std::nullopt;
  od::object obj;
  if (value.get_object().get(obj)) {
    *status = Status(ErrorCode::kInvalidArgument, what + ": malformed JSON object");
    return std::nullopt;
  }
  std::optional<std::string> decoded;
  size_t fields = 0;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      *status = Status(ErrorCode::kInvalidArgument, what + ": malformed JSON object");
      return std::nullopt;
    }
    ++fields;
    if (key != "b64") {
      *status = Status(ErrorCode::kInvalidArgument,
                       fmt::format("{}: unexpected key \"{}\" (a binary value is written {{\"b64\": \"...\"}})", what,
                                   key));
      return std::nullopt;
    }
    std::string_view text;
    if (field.value().get_string().get(text)) {
      *status = Status(ErrorCode::kInvalidArgument, what + ": \"b64\" must be a base64 string");
      return std::nullopt;
    }
    decoded = base64_decode(text);
    if (!decoded) {
      *status = Status(ErrorCode::kInvalidArgument, what + ": \"b64\" is not valid base64");
      return std::nullopt;
    }
  }
  if (fields != 1 || !decoded) {
    *status = Status(ErrorCode::kInvalidArgument, what + ": expected {\"b64\": \"...\"}");
    return std::nullopt;
  }
  return decoded;
}

InputAssembler::InputAssembler(const TensorInfo& info, const ImageInputSpec* image, std::string what)
    : info_(info), image_(image && image->enabled ? image : nullptr), what_(std::move(what)),
      numbers_(info.dtype, what_) {}

void* InputAssembler::new_image_row() {
  const size_t n = image_->row_bytes();
  image_rows_.resize(image_rows_.size() + n);
  return image_rows_.data() + image_rows_.size() - n;
}

void InputAssembler::drop_last_image_row() { image_rows_.resize(image_rows_.size() - image_->row_bytes()); }

Status InputAssembler::add_encoded_image(std::string_view bytes) {
  if (!image_)
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{}: binary/string values are only accepted for image models (this input is {} {})",
                              what_, dtype_name(info_.dtype), dims_to_string(info_.dims)));
  const std::string row_what = fmt::format("{} row {}", what_, rows_);
  Status s = encoded_image_to_row(*image_, bytes, row_what, new_image_row());
  if (!s.ok()) {
    drop_last_image_row();
    return s;
  }
  ++rows_;
  return s;
}

Status InputAssembler::add_image_row_from_json(od::value value) {
  od::json_type type;
  if (value.type().get(type)) return Status(ErrorCode::kInvalidArgument, what_ + ": malformed JSON value");
  if (type == od::json_type::object) {
    Status s;
    auto bytes = read_b64_object(value, fmt::format("{} row {}", what_, rows_), &s);
    if (!s.ok()) return s;
    if (!bytes) return Status(ErrorCode::kInvalidArgument, what_ + ": expected {\"b64\": \"...\"}");
    return add_encoded_image(*bytes);
  }
  if (type == od::json_type::string)
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{} row {}: send encoded images as {{\"b64\": \"<base64>\"}}", what_, rows_));
  // Numbers: either a preprocessed row in the model's layout or raw HxWx3 pixels. For a
  // pixel model both are 0..255 integers, which the uint8 reader checks.
  const std::string row_what = fmt::format("{} row {}", what_, rows_);
  JsonTensorReader row(image_->row_dtype(), row_what);
  Status s = row.read_whole(value);
  if (!s.ok()) return s;
  const Dims dims = row.dims();
  const Dims model_row(info_.dims.begin() + 1, info_.dims.end());
  void* dst = new_image_row();
  if (dims == model_row) {
    Tensor t = row.finish();
    std::memcpy(dst, t.raw(), t.nbytes());
  } else {
    s = pixel_tensor_to_row(*image_, row.finish(), row_what, dst);
    if (!s.ok()) {
      drop_last_image_row();
      return s;
    }
  }
  ++rows_;
  return Status();
}

Status InputAssembler::add_row(od::value value) {
  if (image_) return add_image_row_from_json(value);
  Status s = numbers_.read_row(value);
  if (s.ok()) ++rows_;
  return s;
}

Status InputAssembler::add_rows(od::value list) {
  od::array array;
  if (list.get_array().get(array))
    return Status(ErrorCode::kInvalidArgument, what_ + ": expected a list with one element per batch row");
  for (auto element : array) {
    od::value v;
    if (element.get(v)) return Status(ErrorCode::kInvalidArgument, what_ + ": malformed JSON list");
    Status s = add_row(v);
    if (!s.ok()) return s;
  }
  return Status();
}

Status InputAssembler::finish(Tensor* out) const {
  if (rows_ == 0) return Status(ErrorCode::kInvalidArgument, what_ + ": no rows (empty batch)");
  try {
    if (image_) {
      Dims dims = info_.dims;
      dims[0] = rows_;
      Tensor t = uninitialized_tensor(image_->row_dtype(), std::move(dims));
      std::memcpy(t.raw(), image_rows_.data(), image_rows_.size());
      *out = std::move(t);
    } else {
      *out = numbers_.finish();
    }
  } catch (const Error& e) {
    return Status::from_error(e);
  }
  return Status();
}

}  // namespace kiln::server
