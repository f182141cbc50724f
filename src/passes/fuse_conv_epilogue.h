// Fuses a 2-D Conv with what follows it into one kiln.FusedConv:
//   Conv -> [Add(per-channel constant bias)]* -> [Add(residual of the same shape)]
//        -> [Relu | Clip | LeakyRelu | Sigmoid | HardSigmoid | HardSwish]
// Each intermediate value must have the fused node as its only reader. A residual is
// fused only when it is computed before the Conv, so node order stays topological (in a
// ResNet block the Add joins the last conv of the main path, not the shortcut's conv).
// The fused node carries explicit [top, left, bottom, right] pads (auto_pad resolved).
#pragma once

#include <memory>

#include "passes/pass.h"

namespace kiln::passes {

// Returns the number of FusedConv nodes created.
int fuse_conv_epilogue(ir::Graph& graph);
std::unique_ptr<Pass> make_fuse_conv_epilogue_pass();

}  // namespace kiln::passes
