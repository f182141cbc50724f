// Shape and dtype inference. One function per op, kept in a single explicit table
// (shape_inference.cc), so adding an op is one line and nothing depends on static
// initialization order across libraries.
#pragma once

#include <map>
#include <string>

#include "ir/graph.h"

namespace kiln::ir {

// Sets dtype/dims of the node's outputs from its inputs and attributes.
// Must throw kiln::Error (message without node name; the caller adds it) on invalid input.
using ShapeFn = void (*)(Graph& graph, const Node& node);

const std::map<std::string, ShapeFn>& shape_functions();

// Infers every node's outputs in order. Errors name the node and op:
//   node "conv1" (Conv): weight has 3 input channels but the input has 4
void infer_shapes(Graph& graph);

// Op types of the graph with no shape function, each with the first node name using it.
std::vector<std::pair<std::string, std::string>> unknown_ops(const Graph& graph);

// Helpers for shape functions.
inline const Value& in(const Graph& g, const Node& n, size_t i) {
  KILN_CHECK(n.has_input(i), "missing required input {}", i);
  return g.value(n.inputs[i]);
}
void set_output(Graph& g, const Node& n, size_t i, DType dtype, Dims dims);

}  // namespace kiln::ir
