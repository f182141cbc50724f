#include "backends/cuda/kernels/channel_affine.h"

#include "core/error.h"

namespace kiln::cuda::kernels {

cudaError_t channel_affine(const ChannelAffineParams& p, const void* x, const float* scale, const float* shift,
                           const void* residual, void* y, cudaStream_t stream) {
  check_kernel_float(p.dtype, "channel_affine");
  KILN_CHECK(p.n >= 0 && p.c >= 0 && p.spatial >= 0, "channel_affine: bad sizes n={} c={} h*w={}", p.n, p.c,
             p.spatial);
  if (p.n * p.c * p.spatial == 0) return cudaSuccess;
  KILN_CHECK(x && y, "channel_affine: null device pointer");
  return detail::launch_channel_affine(p, x, scale, shift, residual, y, stream);
}

}  // namespace kiln::cuda::kernels
