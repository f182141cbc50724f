// Row (dimension 0) operations on host tensors, used to pack requests into batches and
// to hand each request its slice of the batch outputs without copying.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace kiln::server {

// Rows [begin, begin+count) of `t` as a tensor sharing t's buffer.
Tensor slice_rows(const Tensor& t, int64_t begin, int64_t count);
// Stacks tensors with equal dtype and trailing dims along dimension 0, then appends
// `pad_rows` zero rows (for engines whose batch dimension is static).
Tensor concat_rows(const std::vector<const Tensor*>& parts, int64_t pad_rows = 0);
// A 64-byte aligned tensor whose contents are left uninitialized, its memory from the
// host buffer pool (buffer_pool.h): for buffers that are about to be overwritten entirely
// (request tensors, batches), where Tensor's zero fill would be one more full pass over
// megabytes of freshly faulted memory.
Tensor uninitialized_tensor(DType dtype, Dims dims);
// True when a and b agree in dtype, rank and every dimension after the first.
bool same_row_shape(const Tensor& a, const Tensor& b);

}  // namespace kiln::server
