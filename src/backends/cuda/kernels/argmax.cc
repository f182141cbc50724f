#include "backends/cuda/kernels/argmax.h"

#include "backends/cuda/kernels/kernel_types.h"
#include "core/error.h"

namespace kiln::cuda::kernels {

cudaError_t argmax_rows_f32(int64_t rows, int64_t cols, const float* x, int64_t* y, cudaStream_t stream);
cudaError_t argmax_rows_f16(int64_t rows, int64_t cols, const void* x, int64_t* y, cudaStream_t stream);
cudaError_t argmax_rows_bf16(int64_t rows, int64_t cols, const void* x, int64_t* y, cudaStream_t stream);
cudaError_t int64_to_int32_impl(int64_t n, const int64_t* x, int32_t* y, cudaStream_t stream);

cudaError_t argmax_last_axis(DType dtype, int64_t rows, int64_t cols, const void* x, int64_t* y,
                             cudaStream_t stream) {
  check_kernel_float(dtype, "argmax");
  KILN_CHECK(rows >= 0 && cols > 0, "argmax: bad shape [{}, {}]", rows, cols);
  if (rows == 0) return cudaSuccess;
  switch (dtype) {
    case DType::kF16: return argmax_rows_f16(rows, cols, x, y, stream);
    case DType::kBF16: return argmax_rows_bf16(rows, cols, x, y, stream);
    default: return argmax_rows_f32(rows, cols, static_cast<const float*>(x), y, stream);
  }
}

cudaError_t int64_to_int32(int64_t n, const int64_t* x, int32_t* y, cudaStream_t stream) {
  KILN_CHECK(n >= 0, "int64_to_int32: negative element count");
  return n == 0 ? cudaSuccess : int64_to_int32_impl(n, x, y, stream);
}

}  // namespace kiln::cuda::kernels
