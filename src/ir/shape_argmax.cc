#include "ir/shape_argmax.h"

namespace kiln::ir {

void infer_arg_reduce(Graph& g, const Node& n) {
  const Value& x = in(g, n, 0);
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  KILN_CHECK(rank > 0, "input must have rank >= 1");
  const int64_t axis = normalize_axis(n.attrs.get_int("axis", 0), rank);
  Dims out = x.dims;
  if (n.attrs.get_int("keepdims", 1)) out[axis] = 1;
  else out.erase(out.begin() + axis);
  set_output(g, n, 0, DType::kI64, out);
}

}  // namespace kiln::ir
