#include "backends/cuda/kernels/strided_copy.h"

#include <cstring>

#include "core/error.h"

namespace kiln::cuda::kernels {
namespace {

void check_elem_size(size_t elem_size, const char* what) {
  KILN_CHECK(elem_size == 1 || elem_size == 2 || elem_size == 4 || elem_size == 8,
             "{}: element size {} is not 1, 2, 4 or 8 bytes", what, elem_size);
}

void check_rank(const Dims& dims, const char* what) {
  KILN_CHECK(dims.size() <= 6, "{}: rank {} of {} exceeds 6", what, dims.size(), dims_to_string(dims));
  for (int64_t d : dims) KILN_CHECK(d >= 0, "{}: negative dimension in {}", what, dims_to_string(dims));
}

// The bits of `value` in `dtype`, for the fill kernel that works on raw element words.
uint64_t value_bits(DType dtype, double value) {
  uint64_t bits = 0;
  switch (dtype) {
    case DType::kF32: { float f = static_cast<float>(value); std::memcpy(&bits, &f, 4); break; }
    case DType::kF64: std::memcpy(&bits, &value, 8); break;
    case DType::kF16: bits = float_to_half(static_cast<float>(value)); break;
    case DType::kBF16: bits = float_to_bfloat16(static_cast<float>(value)); break;
    case DType::kU8: bits = static_cast<uint8_t>(value); break;
    case DType::kBool: bits = value != 0.0 ? 1 : 0; break;
    case DType::kI8: { int8_t v = static_cast<int8_t>(value); std::memcpy(&bits, &v, 1); break; }
    case DType::kI32: { int32_t v = static_cast<int32_t>(value); std::memcpy(&bits, &v, 4); break; }
    case DType::kI64: { int64_t v = static_cast<int64_t>(value); std::memcpy(&bits, &v, 8); break; }
    default: fail("pad: dtype {} is not supported", dtype_name(dtype));
  }
  return bits;
}

}  // namespace

cudaError_t strided_copy(size_t elem_size, const Dims& extents, const void* src,
                         const std::vector<int64_t>& src_strides, void* dst, const std::vector<int64_t>& dst_strides,
                         cudaStream_t stream) {
  check_elem_size(elem_size, "strided_copy");
  check_rank(extents, "strided_copy");
  KILN_CHECK(src_strides.size() == extents.size() && dst_strides.size() == extents.size(),
             "strided_copy: {} extents but {} source and {} destination strides", extents.size(), src_strides.size(),
             dst_strides.size());
  const int64_t count = num_elements(extents);
  if (count == 0) return cudaSuccess;
  KILN_CHECK(src && dst, "strided_copy: null device pointer");
  detail::CopyIndex index;
  index.rank = static_cast<int>(extents.size());
  for (size_t i = 0; i < extents.size(); ++i) {
    index.extents[i] = extents[i];
    index.src_strides[i] = src_strides[i];
    index.dst_strides[i] = dst_strides[i];
  }
  return detail::launch_strided_copy(elem_size, index, count, src, dst, stream);
}

cudaError_t slice(size_t elem_size, const Dims& in_dims, const std::vector<int64_t>& starts,
                  const std::vector<int64_t>& steps, const Dims& out_dims, const void* x, void* y,
                  cudaStream_t stream) {
  check_rank(in_dims, "slice");
  const size_t rank = in_dims.size();
  KILN_CHECK(starts.size() == rank && steps.size() == rank && out_dims.size() == rank,
             "slice: starts/steps/output rank must all equal the input rank {}", rank);
  const std::vector<int64_t> in_strides = strides_of(in_dims);
  std::vector<int64_t> src_strides(rank);
  int64_t offset = 0;
  for (size_t i = 0; i < rank; ++i) {
    KILN_CHECK(steps[i] != 0, "slice: step of axis {} is 0", i);
    if (out_dims[i] > 0) {
      const int64_t last = starts[i] + (out_dims[i] - 1) * steps[i];
      KILN_CHECK(starts[i] >= 0 && starts[i] < in_dims[i] && last >= 0 && last < in_dims[i],
                 "slice: axis {} reads [{}..{}] outside input {}", i, starts[i], last, dims_to_string(in_dims));
    }
    offset += starts[i] * in_strides[i];
    src_strides[i] = steps[i] * in_strides[i];
  }
  if (num_elements(out_dims) == 0) return cudaSuccess;
  const char* base = static_cast<const char*>(x) + offset * static_cast<int64_t>(elem_size);
  return strided_copy(elem_size, out_dims, base, src_strides, y, strides_of(out_dims), stream);
}

cudaError_t copy_into_axis(size_t elem_size, const Dims& part_dims, int64_t axis, int64_t y_axis_size,
                           int64_t axis_offset, const void* x, void* y, cudaStream_t stream) {
  check_rank(part_dims, "concat");
  axis = normalize_axis(axis, static_cast<int64_t>(part_dims.size()));
  KILN_CHECK(axis_offset >= 0 && axis_offset + part_dims[axis] <= y_axis_size,
             "concat: part {} at offset {} does not fit axis {} of size {}", dims_to_string(part_dims), axis_offset,
             axis, y_axis_size);
  Dims y_dims = part_dims;
  y_dims[axis] = y_axis_size;
  const std::vector<int64_t> y_strides = strides_of(y_dims);
  char* base = static_cast<char*>(y) + axis_offset * y_strides[axis] * static_cast<int64_t>(elem_size);
  return strided_copy(elem_size, part_dims, x, strides_of(part_dims), base, y_strides, stream);
}

cudaError_t copy_from_axis(size_t elem_size, const Dims& part_dims, int64_t axis, int64_t x_axis_size,
                           int64_t axis_offset, const void* x, void* y, cudaStream_t stream) {
  check_rank(part_dims, "split");
  axis = normalize_axis(axis, static_cast<int64_t>(part_dims.size()));
  KILN_CHECK(axis_offset >= 0 && axis_offset + part_dims[axis] <= x_axis_size,
             "split: part {} at offset {} does not fit axis {} of size {}", dims_to_string(part_dims), axis_offset,
             axis, x_axis_size);
  Dims x_dims = part_dims;
  x_dims[axis] = x_axis_size;
  const std::vector<int64_t> x_strides = strides_of(x_dims);
  const char* base = static_cast<const char*>(x) + axis_offset * x_strides[axis] * static_cast<int64_t>(elem_size);
  return strided_copy(elem_size, part_dims, base, x_strides, y, strides_of(part_dims), stream);
}

cudaError_t pad_constant(DType dtype, const Dims& in_dims, const std::vector<int64_t>& pads_begin,
                         const std::vector<int64_t>& pads_end, double value, const void* x, void* y,
                         cudaStream_t stream) {
  check_rank(in_dims, "pad");
  const size_t rank = in_dims.size();
  KILN_CHECK(pads_begin.size() == rank && pads_end.size() == rank, "pad: {} begin and {} end pads for rank {}",
             pads_begin.size(), pads_end.size(), rank);
  const uint64_t bits = value_bits(dtype, value);
  detail::PadIndex index;
  index.rank = static_cast<int>(rank);
  int64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    const int64_t out = in_dims[i] + pads_begin[i] + pads_end[i];
    KILN_CHECK(out >= 0, "pad: axis {} of {} padded by [{}, {}] is negative", i, dims_to_string(in_dims),
               pads_begin[i], pads_end[i]);
    index.out_dims[i] = out;
    index.in_dims[i] = in_dims[i];
    index.pads_begin[i] = pads_begin[i];
    count *= out;
  }
  if (count == 0) return cudaSuccess;
  KILN_CHECK(y && (x || num_elements(in_dims) == 0), "pad: null device pointer");
  return detail::launch_pad(dtype_size(dtype), index, count, bits, x, y, stream);
}

}  // namespace kiln::cuda::kernels
