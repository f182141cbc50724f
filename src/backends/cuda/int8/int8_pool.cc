#include "backends/cuda/int8/int8_pool.h"

#include <climits>

#include "core/error.h"

namespace kiln::cuda::int8 {

cudaError_t int8_max_pool_nhwc(const kernels::Pool2dParams& p, const int8_t* x, int8_t* y, cudaStream_t stream) {
  KILN_CHECK(p.kind == kernels::PoolKind::kMax && p.layout == kernels::Layout::kNHWC,
             "int8_max_pool_nhwc: only max pooling over NHWC tensors");
  kernels::check_pool2d_params(p, "int8_max_pool_nhwc");
  KILN_CHECK(p.c > 0, "int8_max_pool_nhwc: no channels");
  const int64_t outputs = p.n * p.out_h * p.out_w * p.c;
  KILN_CHECK(outputs < INT_MAX && p.in_h * p.in_w < INT_MAX,
             "int8_max_pool_nhwc: {} outputs, beyond the kernel's 32-bit indexing", outputs);
  if (outputs == 0) return cudaSuccess;
  KILN_CHECK(x && y, "int8_max_pool_nhwc: null device pointer");
  return detail::launch_int8_max_pool(p, x, y, stream);
}

}  // namespace kiln::cuda::int8
