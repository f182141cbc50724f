#include "server/json_tensor_reader.h"

#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>

namespace kiln::server {

namespace od = simdjson::ondemand;

namespace {
// Deeper nesting than any real tensor; bounds the recursion on hostile input.
constexpr size_t kMaxDepth = 32;

// The values an integer dtype holds; JSON integers outside them are refused rather than
// saturated, so that 256 sent as a pixel does not silently become 255.
struct IntRange {
  int64_t lo, hi;
  const char* name;
};
IntRange int_range(DType dtype) {
  switch (dtype) {
    case DType::kU8: return {0, 255, "uint8"};
    case DType::kI8: return {-128, 127, "int8"};
    case DType::kI32: return {INT32_MIN, INT32_MAX, "int32"};
    default: return {INT64_MIN, INT64_MAX, "int64"};
  }
}
}  // namespace

JsonTensorReader::JsonTensorReader(DType dtype, std::string what) : dtype_(dtype), what_(std::move(what)) {
  switch (dtype) {
    case DType::kF32: case DType::kF16: case DType::kBF16: case DType::kFP8E4M3:
      storage_ = Storage::kFloat; break;
    case DType::kF64: storage_ = Storage::kDouble; break;
    default: storage_ = Storage::kInt; break;
  }
}

Status JsonTensorReader::error(const std::string& message) const {
  return Status(ErrorCode::kInvalidArgument, what_ + ": " + message);
}

std::string JsonTensorReader::position() const {
  std::string s = "[";
  if (!whole_) s += std::to_string(rows_);
  for (int64_t i : index_) s += (s.size() > 1 ? "," : "") + std::to_string(i);
  return s + "]";
}

Dims JsonTensorReader::dims() const {
  Dims d;
  if (!whole_) d.push_back(rows_);
  const size_t depth = leaf_depth_ >= 0 ? static_cast<size_t>(leaf_depth_) : shape_.size();
  for (size_t i = 0; i < depth && i < shape_.size(); ++i) d.push_back(shape_[i]);
  return d;
}

Status JsonTensorReader::read_row(od::value value) {
  index_.clear();
  Status s = read_value(value, 0);
  if (s.ok()) ++rows_;
  else if (rows_ > 0) return Status(s.code(), fmt::format("{} (in row {})", s.message(), rows_));
  return s;
}

Status JsonTensorReader::read_whole(od::value value) {
  whole_ = true;
  index_.clear();
  return read_value(value, 0);
}

namespace {

// A JSON float token (which simdjson has already classified as a number) as a double; the
// token may carry the whitespace that follows it.
bool parse_float_token(std::string_view token, double* out) {
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' || token.back() == '\r'))
    token.remove_suffix(1);
  const auto r = std::from_chars(token.data(), token.data() + token.size(), *out);
  return r.ec == std::errc() && r.ptr == token.data() + token.size();
}

}  // namespace

Status JsonTensorReader::append_scalar(od::value value, od::json_type type) {
  double d = 0;
  int64_t i = 0;
  bool is_int = false;
  if (type == od::json_type::boolean) {
    bool b = false;
    if (value.get_bool().get(b)) return error("malformed boolean");
    i = b;
    d = b;
    is_int = true;
  } else if (type == od::json_type::number) {
    // get_number_type, then std::from_chars on the token, not get_number / get_double:
    // simdjson 3.0.1 (Debian's) misreads floats of 19 or more significant digits, e.g.
    // get_double gives 0.00215 for 0.5555555555555555555552 and get_number gives 0 with an
    // exponent; from_chars rounds correctly.
    od::number_type kind;
    if (value.get_number_type().get(kind)) return error("malformed number");
    if (kind == od::number_type::signed_integer) {
      if (value.get_int64().get(i)) return error("malformed number");
      d = static_cast<double>(i);
      is_int = true;
    } else if (kind == od::number_type::unsigned_integer) {
      return error("integer out of range");
    } else if (!parse_float_token(value.raw_json_token(), &d)) {
      return error("malformed number");
    }
  } else {
    const char* kind = type == od::json_type::string ? "a string"
                       : type == od::json_type::object ? "an object"
                                                       : "null";
    return error(fmt::format("expected a number, got {}", kind));
  }
  switch (storage_) {
    case Storage::kFloat: floats_.push_back(static_cast<float>(d)); break;
    case Storage::kDouble: doubles_.push_back(d); break;
    case Storage::kInt:
      if (!is_int) {
        if (d != std::floor(d) || std::abs(d) > 9.2e18)
          return error(fmt::format("expected an integer at {}, got {}", position(), d));
        i = static_cast<int64_t>(d);
      }
      if (dtype_ != DType::kBool) {
        const IntRange range = int_range(dtype_);
        if (i < range.lo || i > range.hi)
          return error(fmt::format("{} at {} is out of range for {} ({}..{})", i, position(), range.name, range.lo,
                                   range.hi));
      }
      ints_.push_back(i);
      break;
  }
  ++count_;
  return Status();
}

Status JsonTensorReader::read_value(od::value value, size_t depth) {
  od::json_type type;
  if (value.type().get(type)) return error("malformed JSON value");
  if (type != od::json_type::array) {
    if (leaf_depth_ < 0) leaf_depth_ = static_cast<int>(depth);
    else if (leaf_depth_ != static_cast<int>(depth))
      return error(fmt::format("ragged nesting: a number at depth {} where others are at depth {}", depth,
                               leaf_depth_));
    return append_scalar(value, type);
  }
  if (depth >= kMaxDepth) return error(fmt::format("lists nested deeper than {} levels", kMaxDepth));
  if (leaf_depth_ >= 0 && static_cast<int>(depth) >= leaf_depth_)
    return error(fmt::format("ragged nesting: a list at depth {} where numbers are expected", depth));
  od::array array;
  if (value.get_array().get(array)) return error("malformed JSON list");
  int64_t n = 0;
  index_.push_back(0);
  for (auto element : array) {
    od::value v;
    if (element.get(v)) return error("malformed JSON list");
    index_.back() = n;
    Status s = read_value(v, depth + 1);
    if (!s.ok()) return s;
    ++n;
  }
  index_.pop_back();
  if (shape_.size() <= depth) shape_.resize(depth + 1, -1);
  if (shape_[depth] < 0) shape_[depth] = n;
  else if (shape_[depth] != n)
    return error(fmt::format("ragged nesting: a list of {} elements at depth {} where others have {}", n, depth,
                             shape_[depth]));
  return Status();
}

Tensor JsonTensorReader::finish(Dims dims) const {
  KILN_CHECK(num_elements(dims) == count_, "{}: {} values cannot have shape {}", what_, count_,
             dims_to_string(dims));
  Tensor t;
  switch (storage_) {
    case Storage::kFloat: t = Tensor::from_vector<float>(dims, floats_); break;
    case Storage::kDouble: t = Tensor::from_vector<double>(dims, doubles_); break;
    case Storage::kInt: t = Tensor::from_vector<int64_t>(dims, ints_); break;
  }
  return t.dtype() == dtype_ ? t : t.cast(dtype_);
}

}  // namespace kiln::server
