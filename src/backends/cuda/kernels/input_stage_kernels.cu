// Device code for input_stage.h.
#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/input_stage.h"

namespace kiln::cuda::kernels::detail {
namespace {

using device::from_f32;
using device::grid_for;

// Four output values of one channel, stored with one 8- or 16-byte write.
template <typename T> struct alignas(4 * sizeof(T)) Quad { T v[4]; };

template <typename T>
__device__ __forceinline__ void convert_pixel(const InputStageFolded& f, const uint8_t* rgb, float out[3]) {
#pragma unroll
  for (int c = 0; c < 3; ++c) {
    const int src = f.bgr ? 2 - c : c;
    out[c] = float(rgb[src]) * f.mul[c] + f.add[c];
  }
}

// Scalar path: one pixel per thread.
template <typename T>
__global__ void input_stage_scalar_kernel(InputStageFolded f, const uint8_t* __restrict__ x, T* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; p < f.total_pixels; p += stride) {
    float out[3];
    convert_pixel<T>(f, x + p * 3, out);
    if (f.layout == Layout::kNHWC) {
#pragma unroll
      for (int c = 0; c < 3; ++c) y[p * 3 + c] = from_f32<T>(out[c]);
    } else {
      const int64_t n = p / f.pixels_per_image, i = p % f.pixels_per_image;
#pragma unroll
      for (int c = 0; c < 3; ++c) y[(n * 3 + c) * f.pixels_per_image + i] = from_f32<T>(out[c]);
    }
  }
}

// Vector path: four pixels (12 bytes, three aligned 32-bit loads) per thread.
template <typename T>
__global__ void input_stage_quad_kernel(InputStageFolded f, const uint32_t* __restrict__ x, T* __restrict__ y) {
  const int64_t quads = f.total_pixels / 4;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t q = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; q < quads; q += stride) {
    uint32_t words[3] = {x[q * 3], x[q * 3 + 1], x[q * 3 + 2]};
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(words);
    float out[4][3];
#pragma unroll
    for (int k = 0; k < 4; ++k) convert_pixel<T>(f, bytes + 3 * k, out[k]);
    if (f.layout == Layout::kNHWC) {
      // 12 consecutive outputs = 3 quads.
      Quad<T>* dst = reinterpret_cast<Quad<T>*>(y + q * 12);
#pragma unroll
      for (int j = 0; j < 3; ++j) {
        Quad<T> v;
#pragma unroll
        for (int k = 0; k < 4; ++k) v.v[k] = from_f32<T>(out[(j * 4 + k) / 3][(j * 4 + k) % 3]);
        dst[j] = v;
      }
    } else {
      const int64_t p = q * 4;
      const int64_t n = p / f.pixels_per_image, i = p % f.pixels_per_image;
#pragma unroll
      for (int c = 0; c < 3; ++c) {
        Quad<T> v;
#pragma unroll
        for (int k = 0; k < 4; ++k) v.v[k] = from_f32<T>(out[k][c]);
        *reinterpret_cast<Quad<T>*>(y + (n * 3 + c) * f.pixels_per_image + i) = v;
      }
    }
  }
}

}  // namespace

cudaError_t launch_input_stage(const InputStageFolded& f, DType out_dtype, const uint8_t* x, void* y,
                               cudaStream_t stream) {
  const int64_t group = f.layout == Layout::kNCHW ? f.pixels_per_image : f.total_pixels;
  KILN_DISPATCH_FLOAT(out_dtype, T, {
    const bool aligned = (reinterpret_cast<uintptr_t>(x) % 4 == 0) &&
                         (reinterpret_cast<uintptr_t>(y) % sizeof(Quad<T>) == 0);
    if (aligned && group % 4 == 0) {
      input_stage_quad_kernel<T><<<grid_for(f.total_pixels / 4, 256), 256, 0, stream>>>(
          f, reinterpret_cast<const uint32_t*>(x), static_cast<T*>(y));
    } else {
      input_stage_scalar_kernel<T><<<grid_for(f.total_pixels, 256), 256, 0, stream>>>(f, x, static_cast<T*>(y));
    }
  });
  return cudaGetLastError();
}

}  // namespace kiln::cuda::kernels::detail
