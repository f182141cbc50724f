// Device code for channel_affine.h.
#include "backends/cuda/kernels/channel_affine.h"
#include "backends/cuda/kernels/device_math.cuh"

namespace kiln::cuda::kernels::detail {
namespace {

using device::from_f32;
using device::grid_for;
using device::to_f32;

template <typename T>
__global__ void channel_affine_kernel(ChannelAffineParams p, const T* __restrict__ x, const float* __restrict__ scale,
                                      const float* __restrict__ shift, const T* residual, T* y) {
  const int64_t total = p.n * p.c * p.spatial;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const bool nhwc = p.layout == Layout::kNHWC;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t c = nhwc ? i % p.c : (i / p.spatial) % p.c;
    float v = to_f32(x[i]);
    if (scale) v *= scale[c];
    if (shift) v += shift[c];
    if (residual) v += to_f32(residual[i]);
    y[i] = from_f32<T>(device::activate(v, p.activation.kind, p.activation.alpha, p.activation.beta));
  }
}

}  // namespace

cudaError_t launch_channel_affine(const ChannelAffineParams& p, const void* x, const float* scale,
                                  const float* shift, const void* residual, void* y, cudaStream_t stream) {
  KILN_DISPATCH_FLOAT(p.dtype, T, {
    channel_affine_kernel<T><<<grid_for(p.n * p.c * p.spatial, 256), 256, 0, stream>>>(
        p, static_cast<const T*>(x), scale, shift, static_cast<const T*>(residual), static_cast<T*>(y));
  });
  return cudaGetLastError();
}

}  // namespace kiln::cuda::kernels::detail
