// Declarations of the per-op shape functions listed in shape_inference.cc.
// Definitions live in shape_<family>.cc files.
#pragma once

#include "ir/shape_inference.h"

namespace kiln::ir {

void infer_identity(Graph& g, const Node& n);

}  // namespace kiln::ir
