// quantize_space_to_depth (int8_kernels.h): one thread per pixel of the space-to-depth
// image, which it writes as one 16-byte row (4C bytes, zeros after). Rounding as quantize_nhwc, and f32 inputs are
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

// C (1 to 4) is a template argument so that the 16-byte row is built in registers (a
// runtime channel count indexes a local array, which lives in memory); index math is 32-bit
// (the launch checks the sizes fit).
template <typename T, bool Fp8, int C>
__global__ void space_to_depth_kernel(SpaceToDepthParams p, int pixels, const T* __restrict__ x,
                                      uint4* __restrict__ y) {
  const int per_image = p.hs * p.ws;
  // Element strides of x for (image, channel, row, column).
  const int64_t s_img = int64_t(C) * p.h * p.w;
  const int s_ch = p.x_nhwc ? 1 : p.h * p.w;
  const int s_row = p.x_nhwc ? p.w * C : p.w;
  const int s_col = p.x_nhwc ? C : 1;
  for (int px = blockIdx.x * blockDim.x + threadIdx.x; px < pixels; px += gridDim.x * blockDim.x) {
    const int img = px / per_image;
    const int rem = px - img * per_image;
    const int i = rem / p.ws, j = rem - (rem / p.ws) * p.ws;
    const T* image = x + img * s_img;
    uint32_t words[4] = {0, 0, 0, 0};
#pragma unroll
    for (int ab = 0; ab < 4; ++ab) {
      const int row = 2 * i + (ab >> 1) - p.pad_top, col = 2 * j + (ab & 1) - p.pad_left;
      if (row < 0 || row >= p.h || col < 0 || col >= p.w) continue;
      const T* src = image + row * s_row + col * s_col;
#pragma unroll
      for (int ch = 0; ch < C; ++ch) {
        const float v = __fmul_rn(as_float(src[ch * s_ch]), p.inv_scale);
        const uint32_t byte = Fp8 ? to_e4m3(v) : static_cast<uint8_t>(saturate_round(v));
        words[(ab * C + ch) / 4] |= byte << (8 * ((ab * C + ch) % 4));
      }
    }
    y[px] = make_uint4(words[0], words[1], words[2], words[3]);
  }
}

template <typename T, bool Fp8>
void launch_channels(const SpaceToDepthParams& p, int pixels, int blocks, const void* x, void* y,
                     cudaStream_t stream) {
  const T* in = static_cast<const T*>(x);
  uint4* out = static_cast<uint4*>(y);
  switch (p.c) {
    case 1: space_to_depth_kernel<T, Fp8, 1><<<blocks, 256, 0, stream>>>(p, pixels, in, out); break;
    case 2: space_to_depth_kernel<T, Fp8, 2><<<blocks, 256, 0, stream>>>(p, pixels, in, out); break;
    case 3: space_to_depth_kernel<T, Fp8, 3><<<blocks, 256, 0, stream>>>(p, pixels, in, out); break;
    default: space_to_depth_kernel<T, Fp8, 4><<<blocks, 256, 0, stream>>>(p, pixels, in, out); break;
  }
}

template <typename T>
void launch(const SpaceToDepthParams& p, const void* x, void* y, cudaStream_t stream) {
  const int pixels = p.n * p.hs * p.ws;
  const int blocks = std::min((pixels + 255) / 256, 65535 * 8);
  if (p.fp8) launch_channels<T, true>(p, pixels, blocks, x, y, stream);
  else launch_channels<T, false>(p, pixels, blocks, x, y, stream);
}

}  // namespace

cudaError_t quantize_space_to_depth(const SpaceToDepthParams& p, const void* x, void* y, cudaStream_t stream) {
  if (p.c < 1 || 4 * p.c > 16 || p.n < 1 || p.hs < 1 || p.ws < 1 || (reinterpret_cast<uintptr_t>(y) & 15) != 0)
    return cudaErrorInvalidValue;
  // 32-bit index math: the image and the input's offsets within one image must fit.
  if (int64_t(p.n) * p.hs * p.ws >= (int64_t(1) << 31) || int64_t(p.c) * p.h * p.w >= (int64_t(1) << 31))
    return cudaErrorInvalidValue;
  if (p.x_is_f16) launch<__half>(p, x, y, stream);
  else launch<float>(p, x, y, stream);
  return cudaGetLastError();
}

}  // namespace kiln::cuda::int8
