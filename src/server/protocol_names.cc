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

std::string_view tf_error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::kOk: return "OK";
    case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::kNotFound: return "NOT_FOUND";
    case ErrorCode::kUnimplemented: return "UNIMPLEMENTED";
    case ErrorCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case ErrorCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kInternal: return "INTERNAL";
  }
  return "UNKNOWN";
}

}  // namespace kiln::server
