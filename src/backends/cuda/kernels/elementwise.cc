#include "backends/cuda/kernels/elementwise.h"

#include "core/error.h"

namespace kiln::cuda::kernels {

cudaError_t binary(BinaryOp op, DType dtype, const Dims& a_dims, const void* a, const Dims& b_dims,
                   const void* b, void* y, cudaStream_t stream) {
  check_kernel_float(dtype, "binary elementwise");
  const Dims out = broadcast_dims(a_dims, b_dims);  // throws on mismatch
  const int64_t count = num_elements(out);
  if (count == 0) return cudaSuccess;
  KILN_CHECK(a && b && y, "binary elementwise: null device pointer");
  if (a_dims == b_dims) return detail::launch_binary_same_shape(op, dtype, count, a, b, y, stream);

  KILN_CHECK(out.size() <= kMaxKernelRank, "binary elementwise: rank {} of {} exceeds {}", out.size(),
             dims_to_string(out), kMaxKernelRank);
  detail::BroadcastIndex index;
  index.rank = static_cast<int>(out.size());
  // Strides of an input aligned to the output's trailing dimensions; a stretched
  // dimension (size 1 against a larger output) gets stride 0.
  auto fill_strides = [&](const Dims& dims, int64_t* strides) {
    const size_t offset = out.size() - dims.size();
    int64_t stride = 1;
    for (int i = static_cast<int>(out.size()) - 1; i >= 0; --i) {
      if (static_cast<size_t>(i) < offset) {
        strides[i] = 0;
        continue;
      }
      const int64_t d = dims[i - offset];
      strides[i] = (d == 1 && out[i] != 1) ? 0 : stride;
      stride *= d;
    }
  };
  for (size_t i = 0; i < out.size(); ++i) index.out_dims[i] = out[i];
  fill_strides(a_dims, index.a_strides);
  fill_strides(b_dims, index.b_strides);
  return detail::launch_binary_broadcast(op, dtype, index, count, a, b, y, stream);
}

cudaError_t activation(const Activation& act, DType dtype, int64_t count, const void* x, void* y,
                       cudaStream_t stream) {
  check_kernel_float(dtype, "activation");
  KILN_CHECK(count >= 0, "activation: negative element count {}", count);
  if (count == 0) return cudaSuccess;
  KILN_CHECK(x && y, "activation: null device pointer");
  return detail::launch_activation(act, dtype, count, x, y, stream);
}

}  // namespace kiln::cuda::kernels
