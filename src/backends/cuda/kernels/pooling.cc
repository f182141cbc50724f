#include "backends/cuda/kernels/pooling.h"

#include "core/error.h"

namespace kiln::cuda::kernels {

void check_pool2d_params(const Pool2dParams& p, const char* who) {
  KILN_CHECK(p.n >= 0 && p.c >= 0 && p.in_h > 0 && p.in_w > 0 && p.out_h >= 0 && p.out_w >= 0,
             "{}: bad sizes n={} c={} in={}x{} out={}x{}", who, p.n, p.c, p.in_h, p.in_w, p.out_h, p.out_w);
  KILN_CHECK(p.kernel_h > 0 && p.kernel_w > 0, "{}: kernel {}x{} must be positive", who, p.kernel_h, p.kernel_w);
  KILN_CHECK(p.stride_h > 0 && p.stride_w > 0, "{}: strides {}x{} must be positive", who, p.stride_h, p.stride_w);
  KILN_CHECK(p.dilation_h > 0 && p.dilation_w > 0, "{}: dilations {}x{} must be positive", who, p.dilation_h,
             p.dilation_w);
  KILN_CHECK(p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0,
             "{}: pads [{},{},{},{}] must be non-negative", who, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right);
}

cudaError_t pool2d(const Pool2dParams& p, const void* x, void* y, cudaStream_t stream) {
  check_kernel_float(p.dtype, "pool2d");
  check_pool2d_params(p, "pool2d");
  if (p.n * p.c * p.out_h * p.out_w == 0) return cudaSuccess;
  KILN_CHECK(x && y, "pool2d: null device pointer");
  return detail::launch_pool2d(p, x, y, stream);
}

cudaError_t global_pool(PoolKind kind, Layout layout, DType dtype, int64_t n, int64_t c, int64_t spatial,
                        const void* x, void* y, cudaStream_t stream) {
  check_kernel_float(dtype, "global_pool");
  KILN_CHECK(n >= 0 && c >= 0 && spatial > 0, "global_pool: bad sizes n={} c={} h*w={}", n, c, spatial);
  if (n * c == 0) return cudaSuccess;
  KILN_CHECK(x && y, "global_pool: null device pointer");
  return detail::launch_global_pool(kind, layout, dtype, n, c, spatial, x, y, stream);
}

}  // namespace kiln::cuda::kernels
