#include "frontends/tf/tf_converter.h"

#include <algorithm>
#include <set>

#include "frontends/tf/tf_types.h"

namespace kiln::tf {

namespace {

// Ops that only forward their first input.
const std::set<std::string> kPassThrough = {"Identity", "ReadVariableOp", "StopGradient", "Snapshot",
                                            "PreventGradient", "CheckNumerics", "EnsureShape"};

std::string node_of(const std::string& tensor) {
  const size_t colon = tensor.rfind(':');
  return colon == std::string::npos ? tensor : tensor.substr(0, colon);
}

}  // namespace

std::string canonical_tensor_name(const std::string& input) {
  return input.find(':') == std::string::npos ? input + ":0" : input;
}

TfConverter::TfConverter(const tensorflow::GraphDef& graph_def, const CheckpointReader* checkpoint, std::string source)
    : graph_def_(graph_def), checkpoint_(checkpoint), source_(std::move(source)) {
  for (const auto& n : graph_def_.node()) {
    if (n.name().empty()) fail("{}: a node has no name", source_);
    if (!nodes_by_name_.emplace(n.name(), &n).second) fail("{}: node name '{}' is used twice", source_, n.name());
  }
}

void TfConverter::fail_node(const std::string& message) const {
  fail("{}: node \"{}\" ({}): {}", source_, current_->name(), current_->op(), message);
}

int TfConverter::num_inputs() const {
  int n = 0;
  for (const auto& in : current_->input()) if (!in.empty() && in[0] != '^') ++n;
  return n;
}

TfValue TfConverter::input(int i) {
  int k = 0;
  for (const auto& in : current_->input()) {
    if (in.empty() || in[0] == '^') continue;
    if (k++ == i) return resolve(canonical_tensor_name(in));
  }
  fail_node(fmt::format("needs input {} but has {}", i, num_inputs()));
}

TfValue TfConverter::resolve(const std::string& tensor_name) {
  auto it = converted_.find(tensor_name);
  if (it == converted_.end())
    fail_node(fmt::format("input '{}' was not produced (an unsupported or unused output?)", tensor_name));
  return it->second;
}

Tensor TfConverter::constant_input(int i) {
  const TfValue v = input(i);
  const ir::Value& value = graph_.value(v.value);
  if (!value.constant || v.nchw) fail_node(fmt::format("input {} must be a constant", i));
  return *value.constant;
}

int TfConverter::constant(const std::string& name, Tensor t) { return graph_.add_constant(graph_.unique_name(name), std::move(t)); }

std::vector<int> TfConverter::add(const std::string& op, std::vector<int> inputs, ir::Attributes attrs,
                                  int num_outputs, const std::string& suffix) {
  ir::Node n;
  n.name = graph_.unique_name(current_->name() + suffix);
  n.op = op;
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  for (int i = 0; i < num_outputs; ++i)
    n.outputs.push_back(graph_.add_value(graph_.unique_name(i == 0 ? n.name : fmt::format("{}:{}", n.name, i))));
  std::vector<int> outs = n.outputs;
  graph_.add_node(std::move(n));
  return outs;
}

void TfConverter::set_output(int i, TfValue v) { converted_[fmt::format("{}:{}", current_->name(), i)] = v; }

int TfConverter::as_tf(TfValue v) {
  if (!v.nchw) return v.value;
  if (auto it = tf_order_of_.find(v.value); it != tf_order_of_.end()) return it->second;
  ir::Attributes a;
  a.set("perm", std::vector<int64_t>{0, 2, 3, 1});
  const int out = add("Transpose", {v.value}, a, 1, "/to_nhwc")[0];
  tf_order_of_[v.value] = out;
  return out;
}

int TfConverter::as_nchw(TfValue v) {
  if (v.nchw) return v.value;
  if (auto it = nchw_of_.find(v.value); it != nchw_of_.end()) return it->second;
  ir::Attributes a;
  a.set("perm", std::vector<int64_t>{0, 3, 1, 2});
  const int out = add("Transpose", {v.value}, a, 1, "/to_nchw")[0];
  nchw_of_[v.value] = out;
  return out;
}

bool TfConverter::has_attr(const std::string& name) const { return current_->attr().count(name) != 0; }

std::string TfConverter::attr_string(const std::string& name, const std::string& fallback) const {
  auto it = current_->attr().find(name);
  return it == current_->attr().end() ? fallback : it->second.s();
}
int64_t TfConverter::attr_int(const std::string& name, int64_t fallback) const {
  auto it = current_->attr().find(name);
  return it == current_->attr().end() ? fallback : it->second.i();
}
float TfConverter::attr_float(const std::string& name, float fallback) const {
  auto it = current_->attr().find(name);
  return it == current_->attr().end() ? fallback : it->second.f();
}
bool TfConverter::attr_bool(const std::string& name, bool fallback) const {
  auto it = current_->attr().find(name);
  return it == current_->attr().end() ? fallback : it->second.b();
}
std::vector<int64_t> TfConverter::attr_ints(const std::string& name) const {
  auto it = current_->attr().find(name);
  if (it == current_->attr().end()) fail_node(fmt::format("missing attribute '{}'", name));
  return {it->second.list().i().begin(), it->second.list().i().end()};
}
int TfConverter::attr_type(const std::string& name) const {
  auto it = current_->attr().find(name);
  if (it == current_->attr().end()) fail_node(fmt::format("missing attribute '{}'", name));
  return it->second.type();
}

void TfConverter::convert_node(const tensorflow::NodeDef& node) {
  current_ = &node;
  const std::string& op = node.op();
  if (kPassThrough.count(op)) {
    set_output(0, input(0));
    return;
  }
  if (op == "IdentityN") {
    for (int i = 0; i < num_inputs(); ++i) set_output(i, input(i));
    return;
  }
  if (op == "Placeholder" || op == "PlaceholderWithDefault") {
    const DType dtype = dtype_from_tf(attr_type("dtype"));
    if (dtype == DType::kUndefined) fail_node("unsupported placeholder dtype");
    auto it = node.attr().find("shape");
    if (it == node.attr().end() || it->second.shape().unknown_rank())
      fail_node("placeholder has no static rank; kiln needs the input's rank");
    const int v = graph_.add_value(node.name(), dtype, dims_from_tf(it->second.shape(), node.name()));
    graph_.inputs.push_back(v);
    set_output(0, {v, false});
    return;
  }
  if (op == "Const") {
    auto it = node.attr().find("value");
    if (it == node.attr().end()) fail_node("constant without a value");
    set_output(0, {graph_.add_constant(node.name(), tensor_from_tf(it->second.tensor(), node.name())), false});
    return;
  }
  if (op == "VarHandleOp" || op == "VariableV2" || op == "Variable") {
    if (!checkpoint_) fail_node("a variable in a graph without a checkpoint (freeze the graph, or load the SavedModel)");
    std::string key = attr_string("shared_name");
    if (key.empty() || !checkpoint_->has(key)) key = node.name();
    if (!checkpoint_->has(key))
      fail_node(fmt::format("variable not found in the checkpoint (looked for '{}')", key));
    Tensor value = checkpoint_->read(key);
    if (has_attr("shape")) {
      const Dims declared = dims_from_tf(node.attr().at("shape").shape(), node.name());
      if (is_static(declared) && declared != value.dims())
        fail_node(fmt::format("checkpoint holds {} but the variable is declared {}", value.describe(),
                              dims_to_string(declared)));
    }
    set_output(0, {graph_.add_constant(node.name(), std::move(value)), false});
    return;
  }
  auto conv = op_converters().find(op);
  if (conv == op_converters().end()) fail_node("unsupported op");
  conv->second(*this);
}

ir::Graph TfConverter::convert(const std::vector<std::string>& outputs, const std::vector<std::string>& output_names,
                               const std::vector<std::pair<std::string, std::string>>& inputs_to_rename) {
  // Nodes needed by the outputs, in dependency order (iterative DFS: graphs can be deep).
  std::vector<const tensorflow::NodeDef*> order;
  std::set<std::string> visited;
  for (const auto& out : outputs) {
    const std::string root = node_of(out);
    if (!nodes_by_name_.count(root)) fail("{}: output '{}' names no node of the graph", source_, out);
    std::vector<std::pair<const tensorflow::NodeDef*, int>> stack{{nodes_by_name_.at(root), 0}};
    if (!visited.insert(root).second) continue;
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      bool pushed = false;
      while (next < n->input_size()) {
        const std::string& in = n->input(next++);
        if (in.empty() || in[0] == '^') continue;
        const std::string dep = node_of(in);
        auto it = nodes_by_name_.find(dep);
        if (it == nodes_by_name_.end()) fail("{}: node '{}' reads '{}', which does not exist", source_, n->name(), in);
        if (!visited.insert(dep).second) continue;
        stack.emplace_back(it->second, 0);
        pushed = true;
        break;
      }
      if (!pushed && stack.back().second >= stack.back().first->input_size()) {
        order.push_back(stack.back().first);
        stack.pop_back();
      }
    }
  }
  // All unsupported ops at once, one node name each.
  std::vector<std::pair<std::string, std::string>> unsupported;
  static const std::set<std::string> kBuiltin = {"Placeholder", "PlaceholderWithDefault", "Const", "VarHandleOp",
                                                 "VariableV2", "Variable", "IdentityN"};
  for (const auto* n : order) {
    if (kPassThrough.count(n->op()) || kBuiltin.count(n->op()) || op_converters().count(n->op())) continue;
    if (std::none_of(unsupported.begin(), unsupported.end(), [&](auto& u) { return u.first == n->op(); }))
      unsupported.emplace_back(n->op(), n->name());
  }
  if (!unsupported.empty()) {
    std::string msg = fmt::format("{}: {} unsupported TensorFlow op type(s):", source_, unsupported.size());
    for (auto& [op, name] : unsupported) msg += fmt::format(" {} (node \"{}\"),", op, name);
    msg.pop_back();
    fail_with(ErrorCode::kUnimplemented, "{}", msg);
  }
  for (const auto* n : order) convert_node(*n);

  for (size_t i = 0; i < outputs.size(); ++i) {
    current_ = nodes_by_name_.at(node_of(outputs[i]));
    int v = as_tf(resolve(canonical_tensor_name(outputs[i])));
    if (graph_.value(v).is_constant() || graph_.is_graph_output(v) ||
        std::find(graph_.inputs.begin(), graph_.inputs.end(), v) != graph_.inputs.end()) {
      v = add("Identity", {v}, {}, 1, "/output")[0];  // outputs get their own value
    }
    graph_.value(v).name = output_names.empty() ? node_of(outputs[i]) : output_names[i];
    graph_.outputs.push_back(v);
  }
  for (auto& [placeholder, name] : inputs_to_rename) {
    for (int v : graph_.inputs)
      if (graph_.value(v).name == placeholder) graph_.value(v).name = name;
  }
  return std::move(graph_);
}

}  // namespace kiln::tf
