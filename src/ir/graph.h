// The graph IR every frontend produces and every backend consumes.
//
// Values and nodes live in vectors and refer to each other by index, so a Graph is a
// plain value: copying it clones it (passes and per-batch specialization rely on that).
// Nodes are kept in topological order; `verify` checks it.
//
// Ops use ONNX names and attribute conventions ("Conv", "Relu", "Gemm" ...), with
// kiln's own fused ops in the "kiln" domain (see docs/architecture.md); frontends for
// other formats (TensorFlow) translate into the same op set.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/shape.h"
#include "core/tensor.h"
#include "ir/attributes.h"

namespace kiln::ir {

inline constexpr int kNoValue = -1;  // an omitted optional input

struct Value {
  std::string name;
  DType dtype = DType::kUndefined;
  Dims dims;                       // empty dims + kUndefined dtype: not yet inferred
  bool shape_known = false;
  std::optional<Tensor> constant;  // initializers and folded constants
  bool is_constant() const { return constant.has_value(); }
};

struct Node {
  std::string name;
  std::string op;          // "Conv", "Relu", ...
  std::string domain;      // "" for ONNX ops, "kiln" for fused ones
  std::vector<int> inputs;   // value indices; kNoValue for omitted optional inputs
  std::vector<int> outputs;  // value indices
  Attributes attrs;

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != kNoValue; }
};

class Graph {
 public:
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;     // topological order
  std::vector<int> inputs;     // graph inputs (non-constant)
  std::vector<int> outputs;
  // Free-form metadata: producer, opset, preprocessing hints ("kiln.preprocess" etc.).
  std::vector<std::pair<std::string, std::string>> metadata;

  int add_value(std::string value_name, DType dtype = DType::kUndefined, Dims dims = {});
  int add_constant(std::string value_name, Tensor tensor);
  // Appends a node; returns its index. Output values must already exist.
  int add_node(Node node);

  Value& value(int index) { return values.at(static_cast<size_t>(index)); }
  const Value& value(int index) const { return values.at(static_cast<size_t>(index)); }
  // Index of the value with this name, or kNoValue.
  int find_value(const std::string& value_name) const;
  // Index of the node producing value `v`, or -1 for graph inputs and constants.
  int producer(int v) const;
  // Node indices consuming value `v`.
  std::vector<int> consumers(int v) const;
  bool is_graph_output(int v) const;

  // Removes nodes whose outputs are unused (and values no one refers to).
  // Indices of values are preserved; only node indices change.
  void remove_dead_nodes();
  // Reorders nodes topologically; throws on a cycle.
  void topological_sort();
  // A fresh name based on `base` that no value or node uses yet.
  std::string unique_name(const std::string& base);
  // Replaces every use of value `from` (in nodes and graph outputs) with `to`.
  void replace_uses(int from, int to);

 private:
  int next_unique_ = 0;
};

// Checks structural invariants: value indices in range, single producer per value,
// topological order, graph outputs produced. Throws kiln::Error naming the problem.
void verify(const Graph& graph);

// Human-readable dump: inputs, outputs and one line per node with shapes.
std::string dump(const Graph& graph);

}  // namespace kiln::ir
