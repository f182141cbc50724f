// Ops that copy elements into a new layout: Transpose, Concat, Split, Slice, Gather.
// They work on raw element bytes, so every dtype is supported.
#include <algorithm>
#include <cstring>
#include <set>

#include "backends/cpu/broadcast.h"
#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

namespace {

template <typename Word>
void copy_rows(const Word* src, Word* dst, const Dims& out, const std::vector<int64_t>& strides) {
  for_each_broadcast_row(out, {strides}, [&](int64_t o, const std::vector<int64_t>& off, int64_t n,
                                             const std::vector<int64_t>& st) {
    const Word* s = src + off[0];
    Word* d = dst + o;
    if (st[0] == 1) {
      std::memcpy(d, s, static_cast<size_t>(n) * sizeof(Word));
    } else {
      for (int64_t i = 0; i < n; ++i) d[i] = s[i * st[0]];
    }
  });
}

// Fills `out` (contiguous) with src[offset + sum(index[d] * strides[d])]; strides may be
// negative (Slice with negative steps) or permuted (Transpose).
Tensor strided_copy(const Tensor& src, int64_t offset, const std::vector<int64_t>& strides, const Dims& out_dims) {
  Tensor out(src.dtype(), out_dims);
  if (out.numel() == 0) return out;
  const char* base = static_cast<const char*>(src.raw()) + offset * static_cast<int64_t>(dtype_size(src.dtype()));
  switch (dtype_size(src.dtype())) {
    case 1: copy_rows(reinterpret_cast<const uint8_t*>(base), static_cast<uint8_t*>(out.raw()), out_dims, strides); break;
    case 2: copy_rows(reinterpret_cast<const uint16_t*>(base), static_cast<uint16_t*>(out.raw()), out_dims, strides); break;
    case 4: copy_rows(reinterpret_cast<const uint32_t*>(base), static_cast<uint32_t*>(out.raw()), out_dims, strides); break;
    case 8: copy_rows(reinterpret_cast<const uint64_t*>(base), static_cast<uint64_t*>(out.raw()), out_dims, strides); break;
    default: fail("cannot copy elements of {}", src.describe());
  }
  return out;
}

// Sizes around an axis: rows before it and elements per row after it (inclusive of the axis).
int64_t outer_size(const Dims& d, int64_t axis) {
  int64_t n = 1;
  for (int64_t i = 0; i < axis; ++i) n *= d[i];
  return n;
}
int64_t inner_size(const Dims& d, int64_t axis) {
  int64_t n = 1;
  for (size_t i = static_cast<size_t>(axis) + 1; i < d.size(); ++i) n *= d[i];
  return n;
}

}  // namespace

Outputs transpose(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  const int64_t rank = x.rank();
  std::vector<int64_t> perm = node.attrs.get_ints("perm", {});
  if (perm.empty())
    for (int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
  KILN_CHECK(static_cast<int64_t>(perm.size()) == rank, "perm {} does not match input {}", dims_to_string(perm),
             x.describe());
  std::set<int64_t> seen;
  for (int64_t& p : perm) {
    p = normalize_axis(p, rank);
    KILN_CHECK(seen.insert(p).second, "perm {} is not a permutation", dims_to_string(perm));
  }
  const std::vector<int64_t> in_strides = strides_of(x.dims());
  Dims out_dims;
  std::vector<int64_t> strides;
  for (int64_t p : perm) {
    out_dims.push_back(x.dim(p));
    strides.push_back(in_strides[p]);
  }
  return {strided_copy(x, 0, strides, out_dims)};
}

Outputs concat(const ir::Node& node, const Inputs& in) {
  const Tensor& first = required(in, 0);
  KILN_CHECK(first.rank() >= 1, "Concat inputs must have rank >= 1, got {}", first.describe());
  const int64_t axis = normalize_axis(node.attrs.require_int("axis"), first.rank());
  Dims out_dims = first.dims();
  out_dims[axis] = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const Tensor& t = required(in, i);
    KILN_CHECK(t.dtype() == first.dtype() && t.rank() == first.rank(), "input {} is {} but input 0 is {}", i,
               t.describe(), first.describe());
    for (int64_t d = 0; d < t.rank(); ++d)
      KILN_CHECK(d == axis || t.dim(d) == first.dim(d), "input {} {} does not match input 0 {} outside axis {}", i,
                 t.describe(), first.describe(), axis);
    out_dims[axis] += t.dim(axis);
  }
  Tensor out(first.dtype(), out_dims);
  const size_t elem = dtype_size(first.dtype());
  const int64_t outer = outer_size(out_dims, axis);
  const int64_t out_row = out_dims[axis] * inner_size(out_dims, axis);
  int64_t column = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const Tensor& t = *in[i];
    const int64_t row = t.dim(axis) * inner_size(t.dims(), axis);
    for (int64_t o = 0; o < outer && row > 0; ++o)
      std::memcpy(static_cast<char*>(out.raw()) + (o * out_row + column) * elem,
                  static_cast<const char*>(t.raw()) + o * row * elem, static_cast<size_t>(row) * elem);
    column += row;
  }
  return {out};
}

Outputs split(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  KILN_CHECK(x.rank() >= 1, "Split input must have rank >= 1, got {}", x.describe());
  const int64_t axis = normalize_axis(node.attrs.get_int("axis", 0), x.rank());
  const int64_t length = x.dim(axis);
  std::vector<int64_t> sizes = node.attrs.get_ints("split", {});
  if (auto from_input = optional_ints(in, 1)) sizes = *from_input;
  if (sizes.empty()) {
    const int64_t parts = node.attrs.has("num_outputs") ? node.attrs.get_int("num_outputs", 1)
                                                         : static_cast<int64_t>(node.outputs.size());
    KILN_CHECK(parts >= 1, "Split needs at least one output");
    // Opset 18 allows a smaller last chunk when num_outputs is given; before that the
    // axis must divide evenly.
    const int64_t chunk = (length + parts - 1) / parts;
    KILN_CHECK(length % parts == 0 || node.attrs.has("num_outputs"),
               "axis {} of size {} does not split evenly into {} outputs", axis, length, parts);
    for (int64_t p = 0; p < parts; ++p) sizes.push_back(std::max<int64_t>(0, std::min(chunk, length - p * chunk)));
  }
  int64_t total = 0;
  for (int64_t s : sizes) {
    KILN_CHECK(s >= 0, "split sizes must be non-negative, got {}", dims_to_string(sizes));
    total += s;
  }
  KILN_CHECK(total == length, "split sizes {} add up to {} but axis {} of {} has {}", dims_to_string(sizes), total,
             axis, x.describe(), length);
  const size_t elem = dtype_size(x.dtype());
  const int64_t outer = outer_size(x.dims(), axis), inner = inner_size(x.dims(), axis);
  Outputs out;
  int64_t column = 0;
  for (int64_t s : sizes) {
    Dims dims = x.dims();
    dims[axis] = s;
    Tensor part(x.dtype(), dims);
    const int64_t row = s * inner;
    for (int64_t o = 0; o < outer && row > 0; ++o)
      std::memcpy(static_cast<char*>(part.raw()) + o * row * elem,
                  static_cast<const char*>(x.raw()) + (o * length * inner + column) * elem,
                  static_cast<size_t>(row) * elem);
    column += row;
    out.push_back(part);
  }
  return out;
}

Outputs slice(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  const int64_t rank = x.rank();
  const auto starts = optional_ints(in, 1);
  const auto ends = optional_ints(in, 2);
  KILN_CHECK(starts && ends, "Slice needs starts and ends inputs");
  KILN_CHECK(starts->size() == ends->size(), "starts {} and ends {} differ in length", dims_to_string(*starts),
             dims_to_string(*ends));
  std::vector<int64_t> axes;
  if (auto a = optional_ints(in, 3)) axes = *a;
  else for (size_t i = 0; i < starts->size(); ++i) axes.push_back(static_cast<int64_t>(i));
  std::vector<int64_t> steps(starts->size(), 1);
  if (auto s = optional_ints(in, 4)) steps = *s;
  KILN_CHECK(axes.size() == starts->size() && steps.size() == starts->size(),
             "starts, ends, axes and steps must have the same length");

  const std::vector<int64_t> in_strides = strides_of(x.dims());
  Dims out_dims = x.dims();
  std::vector<int64_t> strides = in_strides;
  int64_t offset = 0;
  std::set<int64_t> seen;
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t axis = normalize_axis(axes[i], rank);
    KILN_CHECK(seen.insert(axis).second, "axis {} appears twice in axes", axes[i]);
    const int64_t dim = x.dim(axis), step = steps[i];
    KILN_CHECK(step != 0, "step of axis {} is 0", axes[i]);
    int64_t start = (*starts)[i], end = (*ends)[i];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    int64_t count;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      count = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
    }
    out_dims[axis] = count;
    strides[axis] = in_strides[axis] * step;
    if (count > 0) offset += start * in_strides[axis];
  }
  return {strided_copy(x, offset, strides, out_dims)};
}

Outputs gather(const ir::Node& node, const Inputs& in) {
  const Tensor& data = required(in, 0);
  const Tensor& indices_t = required(in, 1);
  KILN_CHECK(indices_t.dtype() == DType::kI64 || indices_t.dtype() == DType::kI32,
             "indices must be int32 or int64, got {}", indices_t.describe());
  KILN_CHECK(data.rank() >= 1, "data must have rank >= 1, got {}", data.describe());
  const int64_t axis = normalize_axis(node.attrs.get_int("axis", 0), data.rank());
  const std::vector<int64_t> indices = indices_t.to_int64s();
  const int64_t dim = data.dim(axis);
  Dims out_dims(data.dims().begin(), data.dims().begin() + axis);
  out_dims.insert(out_dims.end(), indices_t.dims().begin(), indices_t.dims().end());
  out_dims.insert(out_dims.end(), data.dims().begin() + axis + 1, data.dims().end());
  Tensor out(data.dtype(), out_dims);
  const size_t elem = dtype_size(data.dtype());
  const int64_t outer = outer_size(data.dims(), axis), inner = inner_size(data.dims(), axis);
  const int64_t count = static_cast<int64_t>(indices.size());
  for (int64_t j = 0; j < count; ++j)
    KILN_CHECK(indices[j] >= -dim && indices[j] < dim, "index {} is out of range for axis {} of size {}",
               indices[j], axis, dim);
  const size_t block = static_cast<size_t>(inner) * elem;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < count; ++j) {
      const int64_t idx = indices[j] < 0 ? indices[j] + dim : indices[j];
      std::memcpy(static_cast<char*>(out.raw()) + (o * count + j) * block,
                  static_cast<const char*>(data.raw()) + (o * dim + idx) * block, block);
    }
  }
  return {out};
}

}  // namespace kiln::cpu
