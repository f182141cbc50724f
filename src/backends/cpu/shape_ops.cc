// Ops that relabel a tensor's shape without moving data (the output shares the input's
// buffer): Identity, Dropout (inference), Flatten, Reshape, Squeeze, Unsqueeze; and Shape.
#include <algorithm>
#include <set>

#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

Outputs identity(const ir::Node& n, const Inputs& in) { return {required(in, 0)}; }

Outputs dropout(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  if (const Tensor* training = optional_input(in, 2); training && !training->empty()) {
    const double ratio = optional_input(in, 1) && !in[1]->empty() ? in[1]->to_doubles().at(0) : 0.5;
    if (training->to_doubles().at(0) != 0.0 && ratio != 0.0)
      fail_with(ErrorCode::kUnimplemented, "Dropout in training mode is not supported (inference only)");
  }
  Outputs out = {x};
  if (node.outputs.size() > 1 && node.outputs[1] != ir::kNoValue) {
    Tensor mask(DType::kBool, x.dims());
    std::fill(mask.data<uint8_t>(), mask.data<uint8_t>() + mask.numel(), uint8_t{1});
    out.push_back(mask);
  }
  return out;
}

Outputs flatten(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  int64_t axis = node.attrs.get_int("axis", 1);
  KILN_CHECK(axis >= -x.rank() && axis <= x.rank(), "axis {} is out of range for input {}", axis, x.describe());
  if (axis < 0) axis += x.rank();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x.rank(); ++d) (d < axis ? outer : inner) *= x.dim(d);
  return {x.reshaped({outer, inner})};
}

Outputs reshape(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  const auto requested = optional_ints(in, 1);
  KILN_CHECK(requested.has_value(), "Reshape needs the shape input");
  const bool allow_zero = node.attrs.get_int("allowzero", 0) != 0;
  Dims dims = *requested;
  int64_t infer_at = -1, known = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 0 && !allow_zero) {
      KILN_CHECK(static_cast<int64_t>(i) < x.rank(), "shape {} copies dimension {} (0) but input {} has rank {}",
                 dims_to_string(*requested), i, x.describe(), x.rank());
      dims[i] = x.dim(static_cast<int64_t>(i));
    }
    if (dims[i] == -1) {
      KILN_CHECK(infer_at < 0, "shape {} has more than one -1", dims_to_string(*requested));
      infer_at = static_cast<int64_t>(i);
      continue;
    }
    KILN_CHECK(dims[i] >= 0, "shape {} has a negative dimension", dims_to_string(*requested));
    known *= dims[i];
  }
  if (infer_at >= 0) {
    KILN_CHECK(known != 0 && x.numel() % known == 0, "cannot reshape {} to {}: -1 cannot be inferred",
               x.describe(), dims_to_string(*requested));
    dims[infer_at] = x.numel() / known;
  }
  KILN_CHECK(num_elements(dims) == x.numel(), "cannot reshape {} ({} elements) to {}", x.describe(), x.numel(),
             dims_to_string(dims));
  return {x.reshaped(dims)};
}

Outputs squeeze(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  std::vector<int64_t> axes = node.attrs.get_ints("axes", {});
  if (auto from_input = optional_ints(in, 1)) axes = *from_input;
  std::set<int64_t> drop;
  for (int64_t a : axes) {
    const int64_t axis = normalize_axis(a, x.rank());
    KILN_CHECK(x.dim(axis) == 1, "cannot squeeze axis {} of {}: its size is not 1", a, x.describe());
    drop.insert(axis);
  }
  Dims dims;
  for (int64_t d = 0; d < x.rank(); ++d) {
    const bool gone = axes.empty() ? x.dim(d) == 1 : drop.count(d) != 0;
    if (!gone) dims.push_back(x.dim(d));
  }
  return {x.reshaped(dims)};
}

Outputs unsqueeze(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  std::vector<int64_t> axes = node.attrs.get_ints("axes", {});
  if (auto from_input = optional_ints(in, 1)) axes = *from_input;
  KILN_CHECK(!axes.empty(), "Unsqueeze needs axes");
  const int64_t rank = x.rank() + static_cast<int64_t>(axes.size());
  std::set<int64_t> added;
  for (int64_t a : axes) KILN_CHECK(added.insert(normalize_axis(a, rank)).second, "axis {} appears twice", a);
  Dims dims;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d) dims.push_back(added.count(d) ? 1 : x.dims()[next++]);
  return {x.reshaped(dims)};
}

Outputs shape(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  const int64_t rank = x.rank();
  auto clamp_axis = [rank](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
  const int64_t start = clamp_axis(node.attrs.get_int("start", 0));
  const int64_t end = clamp_axis(node.attrs.get_int("end", rank));
  std::vector<int64_t> dims;
  for (int64_t d = start; d < end; ++d) dims.push_back(x.dim(d));
  return {Tensor::from_vector<int64_t>({static_cast<int64_t>(dims.size())}, dims)};
}

}  // namespace kiln::cpu
