// Gather on one axis with int64 indices (ONNX Gather). Moves bytes: takes an element size.
//
// Contract: data is a dense device array of data_dims; indices is a device array of
// `num_indices` int64 values (any index shape, flattened); y is dense with dims
// data_dims[:axis] + index_shape + data_dims[axis+1:]. Negative indices count from the
// end. An index outside [-size, size) cannot be reported from a running kernel without
// a sync, so it yields zero bytes; the engine validates constant indices when building.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/cuda/kernels/kernel_types.h"
#include "core/shape.h"

namespace kiln::cuda::kernels {

cudaError_t gather(size_t elem_size, const Dims& data_dims, int64_t axis, const int64_t* indices,
                   int64_t num_indices, const void* data, void* y, cudaStream_t stream);

namespace detail {
cudaError_t launch_gather(size_t elem_size, int64_t outer, int64_t axis_size, int64_t inner, const int64_t* indices,
                          int64_t num_indices, const void* data, void* y, cudaStream_t stream);
}  // namespace detail

}  // namespace kiln::cuda::kernels
