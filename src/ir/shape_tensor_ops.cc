// Shape functions of data-movement ops: Flatten, Reshape, Transpose, Concat, Split,
// Slice, Pad, Squeeze, Unsqueeze, Shape and Gather. Where a shape-like input is computed
// at run time, the rank is kept and the affected dimensions become dynamic.
#include <algorithm>
#include <limits>

#include "ir/shape_functions.h"

namespace kiln::ir {

namespace {

int64_t product(const Dims& d, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) {
    if (d[i] < 0) return kDynamic;
    p *= d[i];
  }
  return p;
}

int64_t rank_of(const Value& v) { return static_cast<int64_t>(v.dims.size()); }

// Number of axes in a 1-D axes input computed at run time.
int64_t axes_count(const Graph& g, const Node& n) {
  const Value& axes = known_input(g, n, 1);
  KILN_CHECK(axes.dims.size() == 1 && axes.dims[0] >= 0, "axes must be 1-D with a static length, got {}",
             dims_to_string(axes.dims));
  return axes.dims[0];
}

}  // namespace

void infer_flatten(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  const int64_t r = rank_of(x);
  int64_t axis = n.attrs.get_int("axis", 1);
  if (axis < 0) axis += r;
  KILN_CHECK(axis >= 0 && axis <= r, "axis {} is out of range for rank {}", n.attrs.get_int("axis", 1), r);
  set_output(g, n, 0, x.dtype, {product(x.dims, 0, axis), product(x.dims, axis, r)});
}

void infer_reshape(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  const Value& s = known_input(g, n, 1);
  KILN_CHECK(s.dims.size() == 1, "shape must be 1-D, got {}", dims_to_string(s.dims));
  const Tensor* target = constant_input(g, n, 1);
  if (target == nullptr) {
    KILN_CHECK(s.dims[0] >= 0, "shape input has a dynamic length");
    set_output(g, n, 0, x.dtype, Dims(s.dims[0], kDynamic));
    return;
  }
  const bool allow_zero = n.attrs.get_int("allowzero", 0) != 0;
  Dims out = target->to_int64s();
  std::vector<bool> copied(std::max(x.dims.size(), out.size()), false);
  int infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allow_zero) {
      KILN_CHECK(i < x.dims.size(), "shape {} copies dimension {} that input {} lacks", dims_to_string(out), i,
                 dims_to_string(x.dims));
      out[i] = x.dims[i];
      copied[i] = true;
    } else if (out[i] == -1) {
      KILN_CHECK(infer_at < 0, "shape {} has more than one -1", dims_to_string(target->to_int64s()));
      infer_at = static_cast<int>(i);
    } else {
      KILN_CHECK(out[i] >= 0, "shape {} has an invalid dimension {}", dims_to_string(target->to_int64s()), out[i]);
    }
  }
  // Dimensions copied by 0 appear on both sides, so they cancel out of the -1
  // computation even when they are dynamic (the batch in [N, -1] stays N).
  int64_t in_rest = 1, out_rest = 1;
  bool in_dynamic = false, out_dynamic = false;
  for (size_t i = 0; i < x.dims.size(); ++i) {
    if (copied[i]) continue;
    if (x.dims[i] < 0) in_dynamic = true;
    else in_rest *= x.dims[i];
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (copied[i] || static_cast<int>(i) == infer_at) continue;
    if (out[i] < 0) out_dynamic = true;
    else out_rest *= out[i];
  }
  if (infer_at >= 0) {
    if (in_dynamic || out_dynamic) out[infer_at] = kDynamic;
    else {
      KILN_CHECK(out_rest != 0 && in_rest % out_rest == 0, "cannot reshape {} into {}", dims_to_string(x.dims),
                 dims_to_string(target->to_int64s()));
      out[infer_at] = in_rest / out_rest;
    }
  } else if (!in_dynamic && !out_dynamic) {
    KILN_CHECK(in_rest == out_rest, "cannot reshape {} ({} elements) into {}", dims_to_string(x.dims), in_rest,
               dims_to_string(target->to_int64s()));
  }
  set_output(g, n, 0, x.dtype, out);
}

void infer_transpose(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  const int64_t r = rank_of(x);
  std::vector<int64_t> perm = n.attrs.get_ints("perm");
  if (perm.empty())
    for (int64_t i = r - 1; i >= 0; --i) perm.push_back(i);
  KILN_CHECK(static_cast<int64_t>(perm.size()) == r, "perm has {} values for rank {}", perm.size(), r);
  std::vector<bool> seen(static_cast<size_t>(r), false);
  Dims out;
  for (int64_t p : perm) {
    KILN_CHECK(p >= 0 && p < r && !seen[p], "perm is not a permutation of 0..{}", r - 1);
    seen[p] = true;
    out.push_back(x.dims[p]);
  }
  set_output(g, n, 0, x.dtype, out);
}

void infer_concat(Graph& g, const Node& n) {
  KILN_CHECK(!n.inputs.empty(), "needs at least one input");
  const Value& first = known_input(g, n, 0);
  const int64_t r = rank_of(first);
  const int64_t axis = normalize_axis(n.attrs.require_int("axis"), r);
  Dims out = first.dims;
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    const Value& v = known_input(g, n, i);
    KILN_CHECK(rank_of(v) == r && v.dtype == first.dtype, "input {} is {}{} but input 0 is {}{}", i,
               dtype_name(v.dtype), dims_to_string(v.dims), dtype_name(first.dtype), dims_to_string(first.dims));
    for (int64_t d = 0; d < r; ++d) {
      if (d == axis) {
        out[d] = out[d] < 0 || v.dims[d] < 0 ? kDynamic : out[d] + v.dims[d];
      } else if (out[d] < 0) {
        out[d] = v.dims[d];
      } else {
        KILN_CHECK(v.dims[d] < 0 || v.dims[d] == out[d], "input {} {} does not match {} outside axis {}", i,
                   dims_to_string(v.dims), dims_to_string(first.dims), axis);
      }
    }
  }
  set_output(g, n, 0, first.dtype, out);
}

void infer_split(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  const int64_t axis = normalize_axis(n.attrs.get_int("axis", 0), rank_of(x));
  const int64_t dim = x.dims[axis];
  const size_t parts = n.outputs.size();
  std::vector<int64_t> sizes;
  if (n.has_input(1)) {
    const Tensor* t = constant_input(g, n, 1);
    if (t != nullptr) {
      sizes = t->to_int64s();
      KILN_CHECK(sizes.size() == parts, "split has {} sizes for {} outputs", sizes.size(), parts);
      int64_t total = 0;
      for (int64_t s : sizes) {
        KILN_CHECK(s >= 0, "split sizes must not be negative");
        total += s;
      }
      KILN_CHECK(dim < 0 || total == dim, "split sizes add up to {} but axis {} of {} has {}", total, axis,
                 dims_to_string(x.dims), dim);
    } else {
      sizes.assign(parts, kDynamic);
    }
  } else if (dim < 0) {
    sizes.assign(parts, kDynamic);
  } else {
    KILN_CHECK(dim % static_cast<int64_t>(parts) == 0, "axis {} of {} does not split evenly into {} outputs", axis,
               dims_to_string(x.dims), parts);
    sizes.assign(parts, dim / static_cast<int64_t>(parts));
  }
  for (size_t i = 0; i < parts; ++i) {
    Dims out = x.dims;
    out[axis] = sizes[i];
    set_output(g, n, i, x.dtype, out);
  }
}

namespace {

// Length of one sliced axis, following the ONNX clamping rules.
int64_t slice_length(int64_t dim, int64_t start, int64_t end, int64_t step) {
  KILN_CHECK(step != 0, "slice step must not be 0");
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    return end > start ? (end - start + step - 1) / step : 0;
  }
  start = std::clamp<int64_t>(start, 0, dim - 1);
  end = std::clamp<int64_t>(end, -1, dim - 1);
  return start > end ? (start - end + (-step) - 1) / (-step) : 0;
}

}  // namespace

void infer_slice(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  const int64_t r = rank_of(x);
  const Tensor* starts = constant_input(g, n, 1);
  const Tensor* ends = constant_input(g, n, 2);
  const bool has_axes = n.has_input(3), has_steps = n.has_input(4);
  const Tensor* axes_t = constant_input(g, n, 3);
  const Tensor* steps_t = constant_input(g, n, 4);
  Dims out = x.dims;
  if (!starts || !ends || (has_axes && !axes_t) || (has_steps && !steps_t)) {
    // Offsets known only at run time: every sliced axis (or all, if unknown) is dynamic.
    if (axes_t) {
      for (int64_t a : axes_t->to_int64s()) out[normalize_axis(a, r)] = kDynamic;
    } else {
      std::fill(out.begin(), out.end(), kDynamic);
    }
    set_output(g, n, 0, x.dtype, out);
    return;
  }
  const auto s = starts->to_int64s(), e = ends->to_int64s();
  KILN_CHECK(s.size() == e.size(), "starts has {} values but ends has {}", s.size(), e.size());
  std::vector<int64_t> axes;
  if (axes_t) axes = axes_t->to_int64s();
  else for (size_t i = 0; i < s.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  std::vector<int64_t> steps = steps_t ? steps_t->to_int64s() : std::vector<int64_t>(s.size(), 1);
  KILN_CHECK(axes.size() == s.size() && steps.size() == s.size(), "starts, ends, axes and steps differ in length");
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t a = normalize_axis(axes[i], r);
    KILN_CHECK(!seen[a], "axis {} is sliced twice", a);
    seen[a] = true;
    out[a] = x.dims[a] < 0 ? kDynamic : slice_length(x.dims[a], s[i], e[i], steps[i]);
  }
  set_output(g, n, 0, x.dtype, out);
}

void infer_pad(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  const int64_t r = rank_of(x);
  Dims out(x.dims.size(), kDynamic);
  if (const Tensor* p = constant_input(g, n, 1)) {
    const auto pads = p->to_int64s();
    KILN_CHECK(static_cast<int64_t>(pads.size()) == 2 * r, "pads has {} values for rank {}", pads.size(), r);
    for (int64_t i = 0; i < r; ++i) {
      if (x.dims[i] < 0) continue;
      out[i] = x.dims[i] + pads[i] + pads[r + i];
      KILN_CHECK(out[i] >= 0, "pads {} make dimension {} of {} negative", dims_to_string(pads), i,
                 dims_to_string(x.dims));
    }
  }
  if (n.has_input(2)) {
    const Value& v = known_input(g, n, 2);
    KILN_CHECK(v.dtype == x.dtype, "constant_value is {} but the input is {}", dtype_name(v.dtype),
               dtype_name(x.dtype));
  }
  set_output(g, n, 0, x.dtype, out);
}

void infer_squeeze(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  const int64_t r = rank_of(x);
  std::vector<bool> drop(static_cast<size_t>(r), false);
  if (n.has_input(1)) {
    const Tensor* axes = constant_input(g, n, 1);
    if (axes == nullptr) {  // axes known only at run time: only the rank is known
      set_output(g, n, 0, x.dtype, Dims(static_cast<size_t>(std::max<int64_t>(0, r - axes_count(g, n))), kDynamic));
      return;
    }
    for (int64_t a : axes->to_int64s()) {
      const int64_t i = normalize_axis(a, r);
      KILN_CHECK(x.dims[i] == 1 || x.dims[i] < 0, "cannot squeeze axis {} of {}: it is not 1", a,
                 dims_to_string(x.dims));
      drop[i] = true;
    }
  } else {
    for (int64_t i = 0; i < r; ++i) drop[i] = x.dims[i] == 1;
  }
  Dims out;
  for (int64_t i = 0; i < r; ++i) if (!drop[i]) out.push_back(x.dims[i]);
  set_output(g, n, 0, x.dtype, out);
}

void infer_unsqueeze(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  const Tensor* axes_t = constant_input(g, n, 1);
  if (axes_t == nullptr) {  // axes known only at run time: only the rank is known
    set_output(g, n, 0, x.dtype, Dims(static_cast<size_t>(rank_of(x) + axes_count(g, n)), kDynamic));
    return;
  }
  const auto axes = axes_t->to_int64s();
  const int64_t r = rank_of(x) + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(static_cast<size_t>(r), false);
  for (int64_t a : axes) {
    const int64_t i = normalize_axis(a, r);
    KILN_CHECK(!inserted[i], "axis {} is given twice", a);
    inserted[i] = true;
  }
  Dims out;
  size_t next = 0;
  for (int64_t i = 0; i < r; ++i) out.push_back(inserted[i] ? 1 : x.dims[next++]);
  set_output(g, n, 0, x.dtype, out);
}

void infer_shape(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  const int64_t r = rank_of(x);
  int64_t start = n.attrs.get_int("start", 0), end = n.attrs.get_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  set_output(g, n, 0, DType::kI64, {std::max<int64_t>(0, end - start)});
}

void infer_gather(Graph& g, const Node& n) {
  const Value& data = known_input(g, n, 0);
  const Value& idx = known_input(g, n, 1);
  KILN_CHECK(idx.dtype == DType::kI64 || idx.dtype == DType::kI32, "indices must be int32 or int64, got {}",
             dtype_name(idx.dtype));
  const int64_t r = rank_of(data);
  const int64_t axis = normalize_axis(n.attrs.get_int("axis", 0), r);
  if (const Tensor* t = constant_input(g, n, 1); t && data.dims[axis] >= 0) {
    for (int64_t i : t->to_int64s())
      KILN_CHECK(i >= -data.dims[axis] && i < data.dims[axis], "index {} is out of range for axis {} of {}", i, axis,
                 dims_to_string(data.dims));
  }
  Dims out(data.dims.begin(), data.dims.begin() + axis);
  out.insert(out.end(), idx.dims.begin(), idx.dims.end());
  out.insert(out.end(), data.dims.begin() + axis + 1, data.dims.end());
  set_output(g, n, 0, data.dtype, out);
}

}  // namespace kiln::ir
