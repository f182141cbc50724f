// ReduceMean (axes as an attribute, as at opset 17; an axes input, as at opset 18, is
// also accepted), with keepdims and noop_with_empty_axes.
#include <set>

#include "backends/cpu/dtype_dispatch.h"
#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

Outputs reduce_mean(const ir::Node& node, const Inputs& in) {
  const Tensor& x_in = required(in, 0);
  const Tensor x = widen_half(x_in);
  const int64_t rank = x.rank();
  std::vector<int64_t> axes = node.attrs.get_ints("axes", {});
  if (auto from_input = optional_ints(in, 1)) axes = *from_input;
  const bool keepdims = node.attrs.get_int("keepdims", 1) != 0;
  if (axes.empty() && node.attrs.get_int("noop_with_empty_axes", 0) != 0) return {x_in};
  std::set<int64_t> reduced;
  for (int64_t a : axes) {
    const int64_t axis = normalize_axis(a, rank);
    KILN_CHECK(reduced.insert(axis).second, "axis {} appears twice in axes", a);
  }
  if (axes.empty())
    for (int64_t d = 0; d < rank; ++d) reduced.insert(d);

  Dims kept_dims, y_dims;
  for (int64_t d = 0; d < rank; ++d) {
    const bool r = reduced.count(d) != 0;
    kept_dims.push_back(r ? 1 : x.dim(d));
    if (!r || keepdims) y_dims.push_back(r ? 1 : x.dim(d));
  }
  const int64_t count = kept_dims.empty() ? 1 : x.numel() / std::max<int64_t>(1, num_elements(kept_dims));
  // Each input element adds into the output slot given by its non-reduced coordinates.
  std::vector<int64_t> out_strides = strides_of(kept_dims);
  for (int64_t d : reduced) out_strides[d] = 0;
  Tensor y(x.dtype(), y_dims);
  dispatch_numeric(x.dtype(), "ReduceMean", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    std::vector<double> acc(static_cast<size_t>(num_elements(kept_dims)), 0.0);
    std::vector<int64_t> index(rank, 0);
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t o = 0;
      for (int64_t d = 0; d < rank; ++d) o += index[d] * out_strides[d];
      acc[o] += static_cast<double>(px[i]);
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++index[d] < x.dim(d)) break;
        index[d] = 0;
      }
    }
    T* py = y.data<T>();
    for (size_t o = 0; o < acc.size(); ++o) py[o] = static_cast<T>(acc[o] / static_cast<double>(count));
    return 0;
  });
  return {narrow_to(y, x_in.dtype())};
}

}  // namespace kiln::cpu
