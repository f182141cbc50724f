// Removes Identity nodes and inference-mode Dropout (whose mask output nobody reads):
// readers of the output read the input instead. When the output is a graph output, its
// name is part of the model's API, so the producer of the input writes it directly; an
// Identity from a graph input or constant straight to a graph output stays.
#pragma once

#include <memory>

#include "passes/pass.h"

namespace kiln::passes {

// Returns the number of nodes removed.
int eliminate_identity(ir::Graph& graph);
std::unique_ptr<Pass> make_eliminate_identity_pass();

}  // namespace kiln::passes
