// Dead-node elimination: drops nodes no graph output depends on, and the weights only
// they used (ir::Graph::remove_dead_nodes), so plans carry no unused constants.
#pragma once

#include <memory>

#include "passes/pass.h"

namespace kiln::passes {

// Returns the number of nodes removed.
int eliminate_dead_nodes(ir::Graph& graph);
std::unique_ptr<Pass> make_eliminate_dead_nodes_pass();

}  // namespace kiln::passes
