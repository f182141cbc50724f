#include "ir/onnx_dtype.h"

namespace kiln::ir {

namespace {
struct CodeOf {
  DType dtype;
  int64_t code;
};
constexpr CodeOf kCodes[] = {
    {DType::kF32, 1}, {DType::kU8, 2},    {DType::kI8, 3},  {DType::kI32, 6},   {DType::kI64, 7},
    {DType::kBool, 9}, {DType::kF16, 10}, {DType::kF64, 11}, {DType::kBF16, 16},
};
}  // namespace

DType dtype_from_onnx_code(int64_t code) {
  for (const auto& c : kCodes)
    if (c.code == code) return c.dtype;
  return DType::kUndefined;
}

int64_t onnx_code_of(DType dtype) {
  for (const auto& c : kCodes)
    if (c.dtype == dtype) return c.code;
  return 0;
}

}  // namespace kiln::ir
