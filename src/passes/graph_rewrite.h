// Bookkeeping shared by the rewriting passes: who reads each value, who produces it, and
// a way to drop nodes while scanning without invalidating node indices.
#pragma once

#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

struct ValueUses {
  std::vector<int> producer;           // node index per value, -1 for inputs and constants
  std::vector<std::vector<int>> readers;  // node index per use (a node reading twice appears twice)
  std::vector<bool> graph_output;

  // The one node reading `v`, when `v` has exactly one use and is not a graph output
  // (the condition for folding v's producer into its reader); -1 otherwise.
  int sole_reader(int v) const;
  bool unused(int v) const { return readers[v].empty() && !graph_output[v]; }
};

ValueUses compute_uses(const ir::Graph& graph);

// Empties a node in place (no inputs, no outputs) so indices stay valid during a scan;
// erase_emptied_nodes removes such husks afterwards.
void empty_node(ir::Node& node);
void erase_emptied_nodes(ir::Graph& graph);

// A float32 constant's values, or nullptr when `v` is absent, not constant or not f32.
const Tensor* f32_constant(const ir::Graph& graph, int v);

}  // namespace kiln::passes
