#include "passes/eliminate_dead_nodes.h"

#include "passes/function_pass.h"

namespace kiln::passes {

int eliminate_dead_nodes(ir::Graph& graph) {
  const size_t before = graph.nodes.size();
  graph.remove_dead_nodes();
  return static_cast<int>(before - graph.nodes.size());
}

std::unique_ptr<Pass> make_eliminate_dead_nodes_pass() {
  return std::make_unique<FunctionPass>("eliminate_dead_nodes", eliminate_dead_nodes);
}

}  // namespace kiln::passes
