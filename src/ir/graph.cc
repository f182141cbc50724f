#include "ir/graph.h"

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include <fmt/ranges.h>

namespace kiln::ir {

int Graph::add_value(std::string value_name, DType dtype, Dims dims) {
  Value v;
  v.name = std::move(value_name);
  v.dtype = dtype;
  v.shape_known = dtype != DType::kUndefined;
  v.dims = std::move(dims);
  values.push_back(std::move(v));
  return static_cast<int>(values.size()) - 1;
}

int Graph::add_constant(std::string value_name, Tensor tensor) {
  const int v = add_value(std::move(value_name), tensor.dtype(), tensor.dims());
  values[v].constant = std::move(tensor);
  return v;
}

int Graph::add_node(Node node) {
  nodes.push_back(std::move(node));
  return static_cast<int>(nodes.size()) - 1;
}

int Graph::find_value(const std::string& value_name) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == value_name) return static_cast<int>(i);
  return kNoValue;
}

int Graph::producer(int v) const {
  for (size_t n = 0; n < nodes.size(); ++n)
    for (int o : nodes[n].outputs)
      if (o == v) return static_cast<int>(n);
  return -1;
}

std::vector<int> Graph::consumers(int v) const {
  std::vector<int> result;
  for (size_t n = 0; n < nodes.size(); ++n)
    if (std::find(nodes[n].inputs.begin(), nodes[n].inputs.end(), v) != nodes[n].inputs.end())
      result.push_back(static_cast<int>(n));
  return result;
}

bool Graph::is_graph_output(int v) const {
  return std::find(outputs.begin(), outputs.end(), v) != outputs.end();
}

void Graph::remove_dead_nodes() {
  std::unordered_set<int> live(outputs.begin(), outputs.end());
  std::vector<bool> keep(nodes.size(), false);
  for (int n = static_cast<int>(nodes.size()) - 1; n >= 0; --n) {
    bool used = false;
    for (int o : nodes[n].outputs) used = used || live.count(o);
    if (!used) continue;
    keep[n] = true;
    for (int i : nodes[n].inputs) if (i != kNoValue) live.insert(i);
  }
  std::vector<Node> kept;
  for (size_t n = 0; n < nodes.size(); ++n) if (keep[n]) kept.push_back(std::move(nodes[n]));
  nodes = std::move(kept);
  // Drop constants no node uses, so their weights do not reach a plan.
  for (size_t v = 0; v < values.size(); ++v)
    if (values[v].constant && !live.count(static_cast<int>(v))) values[v].constant.reset();
}

void Graph::topological_sort() {
  std::unordered_map<int, int> producer_of;
  for (size_t n = 0; n < nodes.size(); ++n)
    for (int o : nodes[n].outputs) producer_of[o] = static_cast<int>(n);
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<int>> users(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    std::unordered_set<int> deps;
    for (int i : nodes[n].inputs) {
      auto it = producer_of.find(i);
      if (i != kNoValue && it != producer_of.end() && deps.insert(it->second).second) {
        users[it->second].push_back(static_cast<int>(n));
        ++pending[n];
      }
    }
  }
  std::queue<int> ready;
  for (size_t n = 0; n < nodes.size(); ++n) if (pending[n] == 0) ready.push(static_cast<int>(n));
  std::vector<int> order;
  while (!ready.empty()) {
    int n = ready.front();
    ready.pop();
    order.push_back(n);
    for (int u : users[n]) if (--pending[u] == 0) ready.push(u);
  }
  if (order.size() != nodes.size()) fail("graph '{}' has a cycle", name);
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (int n : order) sorted.push_back(std::move(nodes[n]));
  nodes = std::move(sorted);
}

std::string Graph::unique_name(const std::string& base) {
  std::unordered_set<std::string> used;
  for (auto& v : values) used.insert(v.name);
  for (auto& n : nodes) used.insert(n.name);
  if (!used.count(base)) return base;
  for (;;) {
    std::string candidate = fmt::format("{}_{}", base, next_unique_++);
    if (!used.count(candidate)) return candidate;
  }
}

void Graph::replace_uses(int from, int to) {
  for (auto& n : nodes)
    for (int& i : n.inputs) if (i == from) i = to;
  for (int& o : outputs) if (o == from) o = to;
}

void verify(const Graph& graph) {
  const int nv = static_cast<int>(graph.values.size());
  std::vector<bool> defined(graph.values.size(), false);
  for (int i : graph.inputs) {
    KILN_CHECK(i >= 0 && i < nv, "graph input index {} is out of range", i);
    defined[i] = true;
  }
  for (int v = 0; v < nv; ++v) if (graph.values[v].constant) defined[v] = true;
  for (const Node& n : graph.nodes) {
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      int i = n.inputs[k];
      if (i == kNoValue) continue;
      KILN_CHECK(i >= 0 && i < nv, "node '{}' ({}): input {} refers to a missing value", n.name, n.op, k);
      KILN_CHECK(defined[i], "node '{}' ({}): input '{}' is used before it is produced", n.name, n.op,
                 graph.values[i].name);
    }
    for (int o : n.outputs) {
      KILN_CHECK(o >= 0 && o < nv, "node '{}' ({}): output refers to a missing value", n.name, n.op);
      KILN_CHECK(!defined[o], "node '{}' ({}): value '{}' is produced twice", n.name, n.op, graph.values[o].name);
      defined[o] = true;
    }
  }
  for (int o : graph.outputs) {
    KILN_CHECK(o >= 0 && o < nv, "graph output index {} is out of range", o);
    KILN_CHECK(defined[o], "graph output '{}' is never produced", graph.values[o].name);
  }
}

static std::string describe_value(const Value& v) {
  if (!v.shape_known) return v.name + ":?";
  return fmt::format("{}:{}{}", v.name, dtype_name(v.dtype), dims_to_string(v.dims));
}

std::string dump(const Graph& graph) {
  std::string out = fmt::format("graph {} ({} nodes)\n", graph.name, graph.nodes.size());
  for (int i : graph.inputs) out += "  input  " + describe_value(graph.value(i)) + "\n";
  for (int o : graph.outputs) out += "  output " + describe_value(graph.value(o)) + "\n";
  for (const Node& n : graph.nodes) {
    std::vector<std::string> ins, outs, attrs;
    for (int i : n.inputs) {
      if (i == kNoValue) { ins.push_back("-"); continue; }
      const Value& v = graph.value(i);
      ins.push_back(v.constant ? fmt::format("{}=const {}", v.name, v.constant->describe()) : describe_value(v));
    }
    for (int o : n.outputs) outs.push_back(describe_value(graph.value(o)));
    for (auto& [k, a] : n.attrs.all()) attrs.push_back(k + "=" + attribute_to_string(a));
    out += fmt::format("  {} = {}{}{}({}) {{{}}}  # {}\n", fmt::join(outs, ", "),
                       n.domain.empty() ? "" : n.domain, n.domain.empty() ? "" : ".", n.op,
                       fmt::join(ins, ", "), fmt::join(attrs, " "), n.name);
  }
  return out;
}

}  // namespace kiln::ir
