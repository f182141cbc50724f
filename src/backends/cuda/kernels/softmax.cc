#include "backends/cuda/kernels/softmax.h"

#include "core/error.h"

namespace kiln::cuda::kernels {

cudaError_t softmax_last_axis(DType x_dtype, int64_t rows, int64_t cols, const void* x, float* y, bool log_softmax,
                              cudaStream_t stream) {
  check_kernel_float(x_dtype, log_softmax ? "log_softmax" : "softmax");
  KILN_CHECK(rows >= 0 && cols > 0, "softmax: bad shape [{}, {}]", rows, cols);
  if (rows == 0) return cudaSuccess;
  KILN_CHECK(x && y, "softmax: null device pointer");
  return detail::launch_softmax(x_dtype, rows, cols, x, y, log_softmax, stream);
}

}  // namespace kiln::cuda::kernels
