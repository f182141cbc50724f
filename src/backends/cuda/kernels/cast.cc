#include "backends/cuda/kernels/cast.h"

#include "core/error.h"

namespace kiln::cuda::kernels {

cudaError_t cast(DType from, DType to, int64_t count, const void* x, void* y, cudaStream_t stream) {
  KILN_CHECK((is_kernel_float(from) || from == DType::kU8) && is_kernel_float(to),
             "cast: {} -> {} is not supported on the GPU (from f32/f16/bf16/u8 to f32/f16/bf16)", dtype_name(from),
             dtype_name(to));
  KILN_CHECK(count >= 0, "cast: negative element count {}", count);
  if (count == 0) return cudaSuccess;
  KILN_CHECK(x && y, "cast: null device pointer");
  return detail::launch_cast(from, to, count, x, y, stream);
}

}  // namespace kiln::cuda::kernels
