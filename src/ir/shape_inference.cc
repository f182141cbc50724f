#include "ir/shape_inference.h"

#include "ir/shape_functions.h"

namespace kiln::ir {

const std::map<std::string, ShapeFn>& shape_functions() {
  static const std::map<std::string, ShapeFn> table = {
      {"Identity", infer_identity},
  };
  return table;
}

void set_output(Graph& g, const Node& n, size_t i, DType dtype, Dims dims) {
  if (i >= n.outputs.size()) return;  // optional output not requested
  Value& v = g.value(n.outputs[i]);
  v.dtype = dtype;
  v.dims = std::move(dims);
  v.shape_known = true;
}

void infer_shapes(Graph& graph) {
  const auto& table = shape_functions();
  for (const Node& node : graph.nodes) {
    auto it = table.find(node.op);
    if (it == table.end())
      fail_with(ErrorCode::kUnimplemented, "node \"{}\" ({}): unsupported op", node.name, node.op);
    try {
      it->second(graph, node);
    } catch (const Error& e) {
      throw Error(fmt::format("node \"{}\" ({}): {}", node.name, node.op, e.what()), e.code());
    }
  }
}

std::vector<std::pair<std::string, std::string>> unknown_ops(const Graph& graph) {
  std::vector<std::pair<std::string, std::string>> result;
  const auto& table = shape_functions();
  for (const Node& n : graph.nodes) {
    if (table.count(n.op)) continue;
    bool seen = false;
    for (auto& r : result) seen = seen || r.first == n.op;
    if (!seen) result.emplace_back(n.op, n.name);
  }
  return result;
}

}  // namespace kiln::ir
