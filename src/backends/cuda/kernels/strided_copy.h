// Data movement for Concat, Slice, Split and Pad (constant mode). Like transpose.h these
// move bytes, so they take an element size (1, 2, 4 or 8) and serve every dtype.
//
// Contract: device pointers, rank at most 6, strides and offsets in ELEMENTS (negative
// source strides are allowed, for Slice with negative steps). Source and destination
// must not overlap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/cuda/kernels/kernel_types.h"
#include "core/shape.h"

namespace kiln::cuda::kernels {

// dst[sum_k i_k * dst_strides[k]] = src[sum_k i_k * src_strides[k]] for every index i in
// `extents`. The general primitive the helpers below are built on.
cudaError_t strided_copy(size_t elem_size, const Dims& extents, const void* src,
                         const std::vector<int64_t>& src_strides, void* dst, const std::vector<int64_t>& dst_strides,
                         cudaStream_t stream);

// Slice: y (dense, out_dims) = x[starts[k] + i_k * steps[k]]. Throws if any read would
// leave x.
cudaError_t slice(size_t elem_size, const Dims& in_dims, const std::vector<int64_t>& starts,
                  const std::vector<int64_t>& steps, const Dims& out_dims, const void* x, void* y,
                  cudaStream_t stream);

// Concat: writes x (dense, part_dims) into y, whose dims equal part_dims except
// y_axis_size along `axis`, starting at axis_offset.
cudaError_t copy_into_axis(size_t elem_size, const Dims& part_dims, int64_t axis, int64_t y_axis_size,
                           int64_t axis_offset, const void* x, void* y, cudaStream_t stream);

// Split: reads the part of x (dims = part_dims except x_axis_size along `axis`) that
// starts at axis_offset into dense y (part_dims).
cudaError_t copy_from_axis(size_t elem_size, const Dims& part_dims, int64_t axis, int64_t x_axis_size,
                           int64_t axis_offset, const void* x, void* y, cudaStream_t stream);

// Pad (constant mode, ONNX pads split into begin/end; negative pads crop). `value` is
// converted to `dtype` (float types, u8, i8, i32, i64, bool).
cudaError_t pad_constant(DType dtype, const Dims& in_dims, const std::vector<int64_t>& pads_begin,
                         const std::vector<int64_t>& pads_end, double value, const void* x, void* y,
                         cudaStream_t stream);

namespace detail {
struct CopyIndex {
  int rank = 0;
  int64_t extents[6] = {};
  int64_t src_strides[6] = {};
  int64_t dst_strides[6] = {};
};
struct PadIndex {
  int rank = 0;
  int64_t out_dims[6] = {};
  int64_t in_dims[6] = {};
  int64_t pads_begin[6] = {};
};
cudaError_t launch_strided_copy(size_t elem_size, const CopyIndex& index, int64_t count, const void* src, void* dst,
                                cudaStream_t stream);
cudaError_t launch_pad(size_t elem_size, const PadIndex& index, int64_t count, uint64_t value_bits, const void* x,
                       void* y, cudaStream_t stream);
}  // namespace detail

}  // namespace kiln::cuda::kernels
