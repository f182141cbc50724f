#include "backends/cuda/int8/int8_pool.h"

#include <climits>

#include "core/error.h"

namespace kiln::cuda::int8 {

cudaError_t int8_max_pool_nhwc(const kernels::Pool2dParams& p, const int8_t* x, int8_t* y, cudaStream_t stream) {
  KILN_CHECK(p.kind == kernels::PoolKind::kMax && p.layout == kernels::Layout::kNHWC,
             "int8_max_pool_nhwc: only max pooling over NHWC tensors");
  KILN_CHECK(p.n >= 0 && p.c > 0 && p.in_h > 0 && p.in_w > 0 && p.out_h >= 0 && p.out_w >= 0,
             "int8_max_pool_nhwc: bad sizes n={} c={} in={}x{} out={}x{}", p.n, p.c, p.in_h, p.in_w, p.out_h, p.out_w);
  KILN_CHECK(p.kernel_h > 0 && p.kernel_w > 0 && p.stride_h > 0 && p.stride_w > 0 && p.dilation_h > 0 &&
                 p.dilation_w > 0,
             "int8_max_pool_nhwc: kernel {}x{}, strides {}x{}, dilations {}x{} must be positive", p.kernel_h,
             p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w);
  KILN_CHECK(p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0,
             "int8_max_pool_nhwc: pads [{},{},{},{}] must be non-negative", p.pad_top, p.pad_left, p.pad_bottom,
             p.pad_right);
  const int64_t outputs = p.n * p.out_h * p.out_w * p.c;
  KILN_CHECK(outputs < INT_MAX && p.in_h * p.in_w < INT_MAX,
             "int8_max_pool_nhwc: {} outputs, beyond the kernel's 32-bit indexing", outputs);
  if (outputs == 0) return cudaSuccess;
  KILN_CHECK(x && y, "int8_max_pool_nhwc: null device pointer");
  return detail::launch_int8_max_pool(p, x, y, stream);
}

}  // namespace kiln::cuda::int8
