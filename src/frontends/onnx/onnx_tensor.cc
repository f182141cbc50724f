#include "frontends/onnx/onnx_tensor.h"
#include "ir/onnx_dtype.h"

#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace kiln::onnx {

namespace {

using TP = ::onnx::TensorProto;

// Copies `count` typed-field values into the tensor, converting element by element.
template <typename Field, typename Store>
void copy_field(const Field& field, const Tensor& t, const std::string& name, const char* field_name, Store store) {
  KILN_CHECK(static_cast<int64_t>(field.size()) == t.numel(), "tensor \"{}\": {} has {} values but shape {} needs {}",
             name, field_name, field.size(), dims_to_string(t.dims()), t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) store(i, field.Get(static_cast<int>(i)));
}

int64_t parse_size(const std::string& text, const std::string& tensor, const char* what) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  KILN_CHECK(ec == std::errc() && end == text.data() + text.size() && value >= 0,
             "tensor \"{}\": external data {} \"{}\" is not a non-negative integer", tensor, what, text);
  return value;
}

// External data lives next to the model; a location must not escape that folder.
std::string read_external(const TP& proto, const std::string& base_dir, size_t nbytes) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : proto.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = parse_size(kv.value(), proto.name(), "offset");
    else if (kv.key() == "length") length = parse_size(kv.value(), proto.name(), "length");
  }
  KILN_CHECK(!location.empty(), "tensor \"{}\": external data without a location", proto.name());
  const std::filesystem::path rel(location);
  KILN_CHECK(!rel.is_absolute(), "tensor \"{}\": external data location \"{}\" must be relative to the model",
             proto.name(), location);
  for (const auto& part : rel)
    KILN_CHECK(part != "..", "tensor \"{}\": external data location \"{}\" leaves the model's folder", proto.name(),
               location);
  KILN_CHECK(!base_dir.empty(), "tensor \"{}\": external data \"{}\" needs the model's folder (load it from a file)",
             proto.name(), location);
  const std::filesystem::path full = std::filesystem::path(base_dir) / rel;
  std::ifstream f(full, std::ios::binary);
  if (!f) fail_with(ErrorCode::kNotFound, "tensor \"{}\": external data file {} is missing", proto.name(), full.string());
  f.seekg(0, std::ios::end);
  const int64_t file_size = f.tellg();
  if (length < 0) length = static_cast<int64_t>(nbytes);
  KILN_CHECK(offset >= 0 && static_cast<size_t>(length) == nbytes && offset <= file_size && length <= file_size - offset,
             "tensor \"{}\": external data {} (offset {}, length {}) does not hold the {} bytes its shape needs",
             proto.name(), full.string(), offset, length, nbytes);
  std::string bytes(nbytes, '\0');
  f.seekg(offset);
  f.read(bytes.data(), static_cast<std::streamsize>(nbytes));
  KILN_CHECK(f.good() || nbytes == 0, "tensor \"{}\": cannot read {}", proto.name(), full.string());
  return bytes;
}

}  // namespace

DType dtype_from_onnx(int32_t t) { return ir::dtype_from_onnx_code(t); }

int32_t dtype_to_onnx(DType d) { return static_cast<int32_t>(ir::onnx_code_of(d)); }

Tensor tensor_from_onnx(const TP& proto, const std::string& base_dir) {
  const std::string& name = proto.name();
  const DType dtype = dtype_from_onnx(proto.data_type());
  if (dtype == DType::kUndefined)
    fail_with(ErrorCode::kUnimplemented, "tensor \"{}\": unsupported ONNX data type {} ({})", name, proto.data_type(),
              TP::DataType_IsValid(proto.data_type()) ? TP::DataType_Name(static_cast<TP::DataType>(proto.data_type()))
                                                      : std::string("invalid"));
  Dims dims(proto.dims().begin(), proto.dims().end());
  for (int64_t d : dims) KILN_CHECK(d >= 0, "tensor \"{}\": negative dimension in {}", name, dims_to_string(dims));
  const int64_t numel = num_elements(dims);
  KILN_CHECK(numel <= (int64_t{1} << 34) / static_cast<int64_t>(dtype_size(dtype)),
             "tensor \"{}\": shape {} is too large", name, dims_to_string(dims));
  if (proto.has_data_location() && proto.data_location() == TP::EXTERNAL) {
    // Read (and size-check against the file) before allocating the tensor.
    const std::string bytes = read_external(proto, base_dir, static_cast<size_t>(numel) * dtype_size(dtype));
    Tensor t(dtype, dims);
    if (t.nbytes()) std::memcpy(t.raw(), bytes.data(), t.nbytes());
    return t;
  }
  if (proto.has_raw_data()) {
    // Check before allocating, so a tiny file cannot ask for a huge buffer.
    KILN_CHECK(proto.raw_data().size() == static_cast<size_t>(numel) * dtype_size(dtype),
               "tensor \"{}\": raw_data has {} bytes but {} {} needs {}", name, proto.raw_data().size(),
               dtype_name(dtype), dims_to_string(dims), static_cast<size_t>(numel) * dtype_size(dtype));
    Tensor t(dtype, dims);
    if (t.nbytes()) std::memcpy(t.raw(), proto.raw_data().data(), t.nbytes());
    return t;
  }
  const int64_t available = proto.float_data_size() + proto.int32_data_size() + proto.int64_data_size() +
                            proto.double_data_size() + proto.uint64_data_size();
  KILN_CHECK(available == numel, "tensor \"{}\": holds {} values but shape {} needs {}", name, available,
             dims_to_string(dims), numel);
  Tensor t(dtype, dims);
  switch (dtype) {
    case DType::kF32:
      copy_field(proto.float_data(), t, name, "float_data", [&](int64_t i, float v) { t.data<float>()[i] = v; });
      break;
    case DType::kF64:
      copy_field(proto.double_data(), t, name, "double_data", [&](int64_t i, double v) { t.data<double>()[i] = v; });
      break;
    case DType::kI64:
      copy_field(proto.int64_data(), t, name, "int64_data", [&](int64_t i, int64_t v) { t.data<int64_t>()[i] = v; });
      break;
    case DType::kI32:
      copy_field(proto.int32_data(), t, name, "int32_data", [&](int64_t i, int32_t v) { t.data<int32_t>()[i] = v; });
      break;
    case DType::kI8:
      copy_field(proto.int32_data(), t, name, "int32_data",
                 [&](int64_t i, int32_t v) { t.data<int8_t>()[i] = static_cast<int8_t>(v); });
      break;
    case DType::kU8:
    case DType::kBool:
      copy_field(proto.int32_data(), t, name, "int32_data",
                 [&](int64_t i, int32_t v) { static_cast<uint8_t*>(t.raw())[i] = static_cast<uint8_t>(v); });
      break;
    case DType::kF16:
    case DType::kBF16:  // 16-bit floats travel as their bit patterns in int32_data
      copy_field(proto.int32_data(), t, name, "int32_data",
                 [&](int64_t i, int32_t v) { t.u16()[i] = static_cast<uint16_t>(v); });
      break;
    default: fail("tensor \"{}\": unsupported dtype {}", name, dtype_name(dtype));
  }
  return t;
}

}  // namespace kiln::onnx
