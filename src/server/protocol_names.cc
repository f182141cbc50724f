#include "server/protocol_names.h"

namespace kiln::server {

namespace {
struct DTypeNames {
  DType dtype;
  std::string_view tf, kserve;
};
constexpr DTypeNames kNames[] = {
    {DType::kF32, "DT_FLOAT", "FP32"},  {DType::kF16, "DT_HALF", "FP16"},  {DType::kBF16, "DT_BFLOAT16", "BF16"},
    {DType::kF64, "DT_DOUBLE", "FP64"}, {DType::kI8, "DT_INT8", "INT8"},   {DType::kU8, "DT_UINT8", "UINT8"},
    {DType::kI32, "DT_INT32", "INT32"}, {DType::kI64, "DT_INT64", "INT64"}, {DType::kBool, "DT_BOOL", "BOOL"},
};
}  // namespace

std::string_view tf_dtype_name(DType t) {
  for (const auto& n : kNames)
    if (n.dtype == t) return n.tf;
  return "DT_INVALID";
}

std::string_view kserve_dtype_name(DType t) {
  for (const auto& n : kNames)
    if (n.dtype == t) return n.kserve;
  return "UNKNOWN";
}

DType kserve_dtype_from_name(std::string_view name) {
  for (const auto& n : kNames)
    if (n.kserve == name) return n.dtype;
  return DType::kUndefined;
}

// TensorFlow Serving's status codes carry the same names as kiln's error codes.
std::string_view tf_error_code_name(ErrorCode c) { return error_code_name(c); }

}  // namespace kiln::server
