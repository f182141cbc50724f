// Device-side helpers shared by the *_kernels.cu files: f32 <-> storage-type conversion,
// activations, dtype dispatch and grid sizing. Included only by nvcc-compiled files.
#pragma once

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "backends/cuda/kernels/kernel_types.h"

namespace kiln::cuda::kernels::device {

template <typename T> __device__ __forceinline__ float to_f32(T v);
template <> __device__ __forceinline__ float to_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f32<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f32<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

__device__ __forceinline__ float activate(float x, ActivationKind kind, float alpha, float beta) {
  switch (kind) {
    case ActivationKind::kNone: return x;
    case ActivationKind::kRelu: return fmaxf(x, 0.0f);
    case ActivationKind::kClip: return fminf(fmaxf(x, alpha), beta);
    case ActivationKind::kLeakyRelu: return x >= 0.0f ? x : alpha * x;
    case ActivationKind::kSigmoid: return 1.0f / (1.0f + __expf(-x));
    case ActivationKind::kHardSigmoid: return fminf(fmaxf(alpha * x + beta, 0.0f), 1.0f);
    case ActivationKind::kHardSwish: return x * fminf(fmaxf(x * (1.0f / 6.0f) + 0.5f, 0.0f), 1.0f);
    case ActivationKind::kTanh: return tanhf(x);
  }
  return x;
}

// Enough blocks to fill the GPU several times over; kernels loop over the rest, so
// huge tensors never overflow the grid limits.
inline unsigned grid_for(int64_t work_items, int threads_per_block) {
  int64_t blocks = (work_items + threads_per_block - 1) / threads_per_block;
  if (blocks < 1) blocks = 1;
  if (blocks > 65535LL * 8) blocks = 65535LL * 8;
  return static_cast<unsigned>(blocks);
}

}  // namespace kiln::cuda::kernels::device

// Runs BODY with `T` bound to the storage type of a float DType (f32, f16, bf16).
#define KILN_DISPATCH_FLOAT(dtype, T, ...)                                            \
  switch (dtype) {                                                                    \
    case ::kiln::DType::kF32: { using T = float; __VA_ARGS__; break; }                \
    case ::kiln::DType::kF16: { using T = __half; __VA_ARGS__; break; }               \
    case ::kiln::DType::kBF16: { using T = __nv_bfloat16; __VA_ARGS__; break; }       \
    default: return cudaErrorInvalidValue;                                            \
  }
