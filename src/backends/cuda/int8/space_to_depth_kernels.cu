// quantize_space_to_depth (int8_kernels.h): one thread per pixel of the space-to-depth
// image, which it writes as one 16-byte row. Rounding as quantize_nhwc, and f32 inputs are
// first rounded to f16, the activation type every other quantized layer reads: the values
// are then exactly those of the plain path (cast to f16, then QuantizeInt8).
#include <algorithm>

#include <cuda_fp16.h>

#include "backends/cuda/int8/int8_kernels.h"
#include "backends/cuda/int8/quant_device_math.cuh"

namespace kiln::cuda::int8 {

namespace {

template <typename T>
__device__ __forceinline__ float as_float(T v);
template <>
__device__ __forceinline__ float as_float<float>(float v) { return __half2float(__float2half_rn(v)); }
template <>
__device__ __forceinline__ float as_float<__half>(__half v) { return __half2float(v); }

template <typename T, bool Fp8>
__global__ void space_to_depth_kernel(SpaceToDepthParams p, const T* __restrict__ x, uint4* __restrict__ y) {
  const int64_t pixels = int64_t(p.n) * p.hs * p.ws;
  // Element strides of x for (image, channel, row, column).
  const int64_t s_img = int64_t(p.c) * p.h * p.w;
  const int64_t s_ch = p.x_nhwc ? 1 : int64_t(p.h) * p.w;
  const int64_t s_row = p.x_nhwc ? int64_t(p.w) * p.c : p.w;
  const int64_t s_col = p.x_nhwc ? p.c : 1;
  for (int64_t px = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; px < pixels;
       px += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = px / (int64_t(p.hs) * p.ws);
    const int rem = static_cast<int>(px - img * p.hs * p.ws);
    const int i = rem / p.ws, j = rem - (rem / p.ws) * p.ws;
    uint8_t out[16];
#pragma unroll
    for (int k = 0; k < 16; ++k) out[k] = 0;
    for (int ab = 0; ab < 4; ++ab) {
      const int row = 2 * i + (ab >> 1) - p.pad_top, col = 2 * j + (ab & 1) - p.pad_left;
      if (row < 0 || row >= p.h || col < 0 || col >= p.w) continue;
      const T* src = x + img * s_img + row * s_row + col * s_col;
      for (int ch = 0; ch < p.c; ++ch) {
        const float v = __fmul_rn(as_float(src[ch * s_ch]), p.inv_scale);
        out[ab * p.c + ch] = Fp8 ? to_e4m3(v) : static_cast<uint8_t>(saturate_round(v));
      }
    }
    y[px] = *reinterpret_cast<const uint4*>(out);
  }
}

template <typename T>
void launch(const SpaceToDepthParams& p, const void* x, void* y, cudaStream_t stream) {
  const int64_t pixels = int64_t(p.n) * p.hs * p.ws;
  const int blocks = static_cast<int>(std::min<int64_t>((pixels + 255) / 256, 65535 * 8));
  if (p.fp8)
    space_to_depth_kernel<T, true><<<blocks, 256, 0, stream>>>(p, static_cast<const T*>(x), static_cast<uint4*>(y));
  else
    space_to_depth_kernel<T, false><<<blocks, 256, 0, stream>>>(p, static_cast<const T*>(x), static_cast<uint4*>(y));
}

}  // namespace

cudaError_t quantize_space_to_depth(const SpaceToDepthParams& p, const void* x, void* y, cudaStream_t stream) {
  if (p.c < 1 || 4 * p.c > 16 || p.n < 1 || p.hs < 1 || p.ws < 1 || (reinterpret_cast<uintptr_t>(y) & 15) != 0)
    return cudaErrorInvalidValue;
  if (p.x_is_f16) launch<__half>(p, x, y, stream);
  else launch<float>(p, x, y, stream);
  return cudaGetLastError();
}

}  // namespace kiln::cuda::int8
