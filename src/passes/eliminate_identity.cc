#include "passes/eliminate_identity.h"

#include "passes/function_pass.h"
#include "passes/graph_rewrite.h"

namespace kiln::passes {

namespace {

bool try_eliminate(ir::Graph& g, const ValueUses& uses, int index) {
  ir::Node& node = g.nodes[index];
  if (!node.domain.empty() || (node.op != "Identity" && node.op != "Dropout")) return false;
  if (!node.has_input(0) || node.outputs.empty()) return false;
  for (size_t k = 1; k < node.outputs.size(); ++k)  // Dropout's mask
    if (!uses.unused(node.outputs[k])) return false;
  const int in = node.inputs[0];
  const int out = node.outputs[0];
  if (!uses.graph_output[out]) {
    empty_node(node);
    g.replace_uses(out, in);
    return true;
  }
  const int producer = uses.producer[in];
  if (producer < 0 || uses.graph_output[in]) return false;
  empty_node(node);
  for (int& o : g.nodes[producer].outputs)
    if (o == in) o = out;
  g.replace_uses(in, out);
  return true;
}

}  // namespace

int eliminate_identity(ir::Graph& graph) {
  int removed = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const std::string& op = graph.nodes[n].op;
    if (op != "Identity" && op != "Dropout") continue;
    if (try_eliminate(graph, compute_uses(graph), static_cast<int>(n))) ++removed;
  }
  erase_emptied_nodes(graph);
  return removed;
}

std::unique_ptr<Pass> make_eliminate_identity_pass() {
  return std::make_unique<FunctionPass>("eliminate_identity", eliminate_identity);
}

}  // namespace kiln::passes
