#include "backends/cuda/kernels/gather.h"

#include "core/error.h"

namespace kiln::cuda::kernels {

cudaError_t gather(size_t elem_size, const Dims& data_dims, int64_t axis, const int64_t* indices,
                   int64_t num_indices, const void* data, void* y, cudaStream_t stream) {
  KILN_CHECK(elem_size == 1 || elem_size == 2 || elem_size == 4 || elem_size == 8,
             "gather: element size {} is not 1, 2, 4 or 8 bytes", elem_size);
  KILN_CHECK(!data_dims.empty(), "gather: data must have rank >= 1");
  axis = normalize_axis(axis, static_cast<int64_t>(data_dims.size()));
  KILN_CHECK(num_indices >= 0, "gather: negative index count {}", num_indices);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= data_dims[i];
  for (size_t i = axis + 1; i < data_dims.size(); ++i) inner *= data_dims[i];
  KILN_CHECK(data_dims[axis] > 0 || num_indices == 0, "gather: axis {} of {} is empty", axis,
             dims_to_string(data_dims));
  if (outer * num_indices * inner == 0) return cudaSuccess;
  KILN_CHECK(data && indices && y, "gather: null device pointer");
  return detail::launch_gather(elem_size, outer, data_dims[axis], inner, indices, num_indices, data, y, stream);
}

}  // namespace kiln::cuda::kernels
