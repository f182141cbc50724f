// Device code for thin_nhwc.h: one thread per pixel reads its c values from the c planes
// (coalesced across the warp) and writes them side by side.
#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/thin_nhwc.h"

namespace kiln::cuda::kernels {
namespace {

using device::from_f32;
using device::grid_for;
using device::to_f32;

template <typename In, typename Out>
__global__ void thin_nchw_to_nhwc_kernel(int64_t pixels, int64_t hw, int c, const In* __restrict__ x,
                                         Out* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; p < pixels; p += stride) {
    const int64_t n = p / hw, s = p - n * hw;
    const In* src = x + n * c * hw + s;
    Out* dst = y + p * c;
    for (int k = 0; k < c; ++k) dst[k] = from_f32<Out>(to_f32(src[k * hw]));
  }
}

}  // namespace

cudaError_t thin_nchw_to_nhwc(DType from, DType to, int64_t n, int64_t c, int64_t hw, const void* x, void* y,
                              cudaStream_t stream) {
  if (c < 1 || c > kThinChannels || n < 0 || hw < 0) return cudaErrorInvalidValue;
  const int64_t pixels = n * hw;
  if (pixels == 0) return cudaSuccess;
  KILN_DISPATCH_FLOAT(from, In, {
    KILN_DISPATCH_FLOAT(to, Out, {
      thin_nchw_to_nhwc_kernel<In, Out><<<grid_for(pixels, 256), 256, 0, stream>>>(
          pixels, hw, static_cast<int>(c), static_cast<const In*>(x), static_cast<Out*>(y));
    });
  });
  return cudaGetLastError();
}

}  // namespace kiln::cuda::kernels
