#include "backends/cpu/kernel_inputs.h"

namespace kiln::cpu {

const Tensor& required(const Inputs& inputs, size_t i) {
  if (i >= inputs.size() || inputs[i] == nullptr) fail("missing required input {}", i);
  return *inputs[i];
}

const Tensor* optional_input(const Inputs& inputs, size_t i) {
  return i < inputs.size() ? inputs[i] : nullptr;
}

std::optional<std::vector<int64_t>> optional_ints(const Inputs& inputs, size_t i) {
  const Tensor* t = optional_input(inputs, i);
  if (!t || t->empty()) return std::nullopt;
  if (t->dtype() != DType::kI64 && t->dtype() != DType::kI32)
    fail("input {} must be int64 (or int32), got {}", i, t->describe());
  return t->to_int64s();
}

bool is_half(DType t) { return t == DType::kF16 || t == DType::kBF16; }

Tensor widen_half(const Tensor& t) { return is_half(t.dtype()) ? t.cast(DType::kF32) : t; }

Tensor narrow_to(Tensor t, DType original) {
  return is_half(original) && t.dtype() == DType::kF32 ? t.cast(original) : t;
}

void require_float(const Tensor& t, const char* what) {
  const DType d = t.dtype();
  if (d != DType::kF32 && d != DType::kF64 && !is_half(d))
    fail_with(ErrorCode::kUnimplemented, "{} must be a float tensor (f32, f64, f16, bf16), got {}", what,
              t.describe());
}

}  // namespace kiln::cpu
