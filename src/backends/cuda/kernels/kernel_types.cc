#include "backends/cuda/kernels/kernel_types.h"

#include "core/error.h"

namespace kiln::cuda::kernels {

Activation activation_from_name(std::string_view name, float alpha, float beta) {
  if (name == "none" || name.empty()) return {ActivationKind::kNone, alpha, beta};
  if (name == "relu") return {ActivationKind::kRelu, alpha, beta};
  if (name == "clip") return {ActivationKind::kClip, alpha, beta};
  if (name == "leaky_relu") return {ActivationKind::kLeakyRelu, alpha, beta};
  if (name == "sigmoid") return {ActivationKind::kSigmoid, alpha, beta};
  if (name == "hard_sigmoid") return {ActivationKind::kHardSigmoid, alpha, beta};
  if (name == "hard_swish") return {ActivationKind::kHardSwish, alpha, beta};
  if (name == "tanh") return {ActivationKind::kTanh, alpha, beta};
  fail("unknown activation \"{}\" (expected none, relu, clip, leaky_relu, sigmoid, hard_sigmoid, hard_swish, tanh)",
       name);
}

bool is_kernel_float(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16;
}

void check_kernel_float(DType dtype, std::string_view what) {
  KILN_CHECK(is_kernel_float(dtype), "{}: dtype {} is not one of f32, f16, bf16", what, dtype_name(dtype));
}

}  // namespace kiln::cuda::kernels
