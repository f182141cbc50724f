#include "ir/shape_functions.h"

namespace kiln::ir {

void infer_identity(Graph& g, const Node& n) {
  const Value& x = in(g, n, 0);
  set_output(g, n, 0, x.dtype, x.dims);
}

}  // namespace kiln::ir
