// Pad: constant, reflect, edge and wrap modes, with pads, constant_value and axes as
// inputs (opset 18 form; the frontend rewrites older attribute forms). Negative pads crop.
#include <cstring>

#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

namespace {

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

PadMode pad_mode(const std::string& mode) {
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "edge") return PadMode::kEdge;
  if (mode == "wrap") return PadMode::kWrap;
  fail("unsupported pad mode \"{}\" (expected constant, reflect, edge or wrap)", mode);
}

// Source coordinate for output coordinate `o` along one axis, or -1 for the constant.
int64_t source_index(int64_t o, int64_t before, int64_t dim, PadMode mode) {
  int64_t i = o - before;
  if (i >= 0 && i < dim) return i;
  switch (mode) {
    case PadMode::kConstant: return -1;
    case PadMode::kEdge: return i < 0 ? 0 : dim - 1;
    case PadMode::kWrap: return ((i % dim) + dim) % dim;
    case PadMode::kReflect:
      if (dim == 1) return 0;
      while (i < 0 || i >= dim) i = i < 0 ? -i : 2 * (dim - 1) - i;
      return i;
  }
  return -1;
}

}  // namespace

Outputs pad(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  const int64_t rank = x.rank();
  const PadMode mode = pad_mode(node.attrs.get_string("mode", "constant"));
  std::vector<int64_t> pads = node.attrs.get_ints("pads", {});
  if (auto from_input = optional_ints(in, 1)) pads = *from_input;
  std::vector<int64_t> axes;
  if (auto a = optional_ints(in, 3)) {
    axes = *a;
  } else {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  const size_t n_axes = axes.size();
  KILN_CHECK(pads.size() == 2 * n_axes, "pads has {} values, expected {} (begin and end for {} axes)", pads.size(),
             2 * n_axes, n_axes);
  std::vector<int64_t> before(rank, 0), after(rank, 0);
  for (size_t i = 0; i < n_axes; ++i) {
    const int64_t axis = normalize_axis(axes[i], rank);
    before[axis] = pads[i];
    after[axis] = pads[i + n_axes];
  }

  Dims out_dims(rank);
  std::vector<std::vector<int64_t>> maps(rank);
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t dim = x.dim(d);
    out_dims[d] = dim + before[d] + after[d];
    KILN_CHECK(out_dims[d] >= 0, "pads {} remove more than axis {} of {} holds", dims_to_string(pads), d,
               x.describe());
    const bool grows = before[d] > 0 || after[d] > 0;
    if (grows && mode != PadMode::kConstant) {
      KILN_CHECK(dim > 0, "{} padding needs a non-empty axis {} in {}", node.attrs.get_string("mode", ""), d,
                 x.describe());
      KILN_CHECK(mode != PadMode::kReflect || (before[d] < dim && after[d] < dim),
                 "reflect pads {} must be smaller than axis {} of {}", dims_to_string(pads), d, x.describe());
    }
    for (int64_t o = 0; o < out_dims[d]; ++o) maps[d].push_back(source_index(o, before[d], dim, mode));
  }

  const size_t elem = dtype_size(x.dtype());
  std::vector<char> fill(elem, 0);
  if (const Tensor* value = optional_input(in, 2); value && !value->empty() && mode == PadMode::kConstant) {
    KILN_CHECK(value->numel() == 1, "constant_value must be a scalar, got {}", value->describe());
    const Tensor converted = value->dtype() == x.dtype() ? *value : value->cast(x.dtype());
    std::memcpy(fill.data(), converted.raw(), elem);
  }

  Tensor out(x.dtype(), out_dims);
  if (out.numel() == 0) return {out};
  const std::vector<int64_t> in_strides = strides_of(x.dims());
  std::vector<int64_t> index(rank, 0);
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(out.raw());
  for (int64_t i = 0; i < out.numel(); ++i) {
    int64_t offset = 0;
    bool constant = false;
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t s = maps[d][index[d]];
      if (s < 0) { constant = true; break; }
      offset += s * in_strides[d];
    }
    std::memcpy(dst + i * elem, constant ? fill.data() : src + offset * elem, elem);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++index[d] < out_dims[d]) break;
      index[d] = 0;
    }
  }
  return {out};
}

}  // namespace kiln::cpu
