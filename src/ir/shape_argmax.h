#pragma once

#include "ir/shape_inference.h"

namespace kiln::ir {

// ArgMax / ArgMin (ONNX): int64 indices, the axis removed unless keepdims.
void infer_arg_reduce(Graph& g, const Node& n);

}  // namespace kiln::ir
