#include "backends/cuda/int8/int8_pool.h"

#include <climits>

#include "core/error.h"

namespace kiln::cuda::int8 {

cudaError_t max_pool_8bit_nhwc(const kernels::Pool2dParams& p, bool fp8, const void* x, void* y,
                               cudaStream_t stream) {
  KILN_CHECK(p.kind == kernels::PoolKind::kMax && p.layout == kernels::Layout::kNHWC,
             "max_pool_8bit_nhwc: only max pooling over NHWC tensors");
  kernels::check_pool2d_params(p, "max_pool_8bit_nhwc");
  KILN_CHECK(p.c > 0, "max_pool_8bit_nhwc: no channels");
  const int64_t outputs = p.n * p.out_h * p.out_w * p.c;
  KILN_CHECK(outputs < INT_MAX && p.in_h * p.in_w < INT_MAX,
             "max_pool_8bit_nhwc: {} outputs, beyond the kernel's 32-bit indexing", outputs);
  if (outputs == 0) return cudaSuccess;
  KILN_CHECK(x && y, "max_pool_8bit_nhwc: null device pointer");
  return detail::launch_8bit_max_pool(p, fp8, x, y, stream);
}

}  // namespace kiln::cuda::int8
