#include "engine/graph_io.h"

namespace kiln {

static std::vector<TensorInfo> infos(const ir::Graph& g, const std::vector<int>& ids) {
  std::vector<TensorInfo> out;
  for (int v : ids) out.push_back({g.value(v).name, g.value(v).dtype, g.value(v).dims});
  return out;
}

std::vector<TensorInfo> graph_inputs(const ir::Graph& graph) { return infos(graph, graph.inputs); }
std::vector<TensorInfo> graph_outputs(const ir::Graph& graph) { return infos(graph, graph.outputs); }

void check_inputs(const ir::Graph& graph, const std::vector<Tensor>& inputs) {
  if (inputs.size() != graph.inputs.size())
    fail("model takes {} input(s), got {}", graph.inputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ir::Value& v = graph.value(graph.inputs[i]);
    const Tensor& t = inputs[i];
    bool ok = t.dtype() == v.dtype && t.dims().size() == v.dims.size();
    for (size_t d = 0; ok && d < v.dims.size(); ++d)
      ok = v.dims[d] < 0 || v.dims[d] == t.dims()[d];
    if (!ok)
      fail("input '{}' expects {}{}, got {}", v.name, dtype_name(v.dtype), dims_to_string(v.dims), t.describe());
  }
}

std::string describe_unsupported(const std::vector<std::pair<std::string, std::string>>& ops,
                                 const std::string& who) {
  std::string s = fmt::format("{} unsupported op type(s) for {}:", ops.size(), who);
  for (auto& [op, node] : ops) s += fmt::format(" {} (node \"{}\"),", op, node);
  s.pop_back();
  return s;
}

}  // namespace kiln
