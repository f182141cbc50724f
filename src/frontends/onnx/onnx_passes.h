// Steps of the import that need inferred shapes.
#pragma once

#include "ir/graph.h"

namespace kiln::onnx {

// Replaces auto_pad SAME_UPPER / SAME_LOWER / VALID on Conv and pooling nodes by the
// explicit pads they mean for the node's input shape, so no later stage sees auto_pad.
void resolve_auto_pads(ir::Graph& graph);

// Constant folding and dead-node elimination, run on every imported graph.
void optimize_imported_graph(ir::Graph& graph);

}  // namespace kiln::onnx
