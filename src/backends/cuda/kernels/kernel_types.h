// Types shared by the host wrappers of kiln's own CUDA kernels.
//
// These headers are plain C++: the only CUDA types they mention are cudaStream_t and
// cudaError_t, so engine code compiled by the host compiler can include them. Every
// tensor argument is a device pointer to densely packed, row-major data unless the
// function says otherwise. Floating-point kernels accept f32, f16 and bf16 and always
// compute in f32 registers, so f16/bf16 results differ from an f32 reference only by
// the final rounding.
#pragma once

#include <cstdint>
#include <string_view>

#include <cuda_runtime_api.h>

#include "core/dtype.h"

namespace kiln::cuda::kernels {

// Memory order of a 4-D image tensor: [N, C, H, W] or [N, H, W, C].
enum class Layout : uint8_t { kNCHW, kNHWC };

enum class ActivationKind : uint8_t {
  kNone,
  kRelu,
  kClip,         // min(max(x, alpha), beta)
  kLeakyRelu,    // x >= 0 ? x : alpha * x
  kSigmoid,
  kHardSigmoid,  // max(0, min(1, alpha * x + beta))
  kHardSwish,    // x * max(0, min(1, x / 6 + 1 / 2))
  kTanh,
};

// An activation with its two parameters, in the meaning of kiln.FusedConv's
// act_alpha / act_beta attributes.
struct Activation {
  ActivationKind kind = ActivationKind::kNone;
  float alpha = 0.0f;
  float beta = 0.0f;
};

// Maps the `activation` attribute of kiln.FusedConv / kiln.FusedGemm ("none", "relu",
// "clip", "leaky_relu", "sigmoid", "hard_sigmoid", "hard_swish", plus "tanh") to an
// Activation; throws kiln::Error naming the unknown string.
Activation activation_from_name(std::string_view name, float alpha, float beta);

// f32, f16 or bf16: the element types of the floating-point kernels.
bool is_kernel_float(DType dtype);

// Throws kiln::Error "<what>: dtype X is not one of f32, f16, bf16" unless is_kernel_float.
void check_kernel_float(DType dtype, std::string_view what);

}  // namespace kiln::cuda::kernels
