#include "passes/graph_rewrite.h"

#include <algorithm>

namespace kiln::passes {

int ValueUses::sole_reader(int v) const {
  if (v < 0 || graph_output[v] || readers[v].size() != 1) return -1;
  return readers[v][0];
}

ValueUses compute_uses(const ir::Graph& graph) {
  ValueUses uses;
  const size_t nv = graph.values.size();
  uses.producer.assign(nv, -1);
  uses.readers.assign(nv, {});
  uses.graph_output.assign(nv, false);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    for (int o : graph.nodes[n].outputs) uses.producer[o] = static_cast<int>(n);
    for (int i : graph.nodes[n].inputs)
      if (i != ir::kNoValue) uses.readers[i].push_back(static_cast<int>(n));
  }
  for (int o : graph.outputs) uses.graph_output[o] = true;
  return uses;
}

void empty_node(ir::Node& node) {
  node.inputs.clear();
  node.outputs.clear();
}

void erase_emptied_nodes(ir::Graph& graph) {
  std::erase_if(graph.nodes, [](const ir::Node& n) { return n.outputs.empty(); });
}

const Tensor* f32_constant(const ir::Graph& graph, int v) {
  if (v == ir::kNoValue) return nullptr;
  const ir::Value& value = graph.value(v);
  if (!value.constant || value.constant->dtype() != DType::kF32) return nullptr;
  return &*value.constant;
}

}  // namespace kiln::passes
