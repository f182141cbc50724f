#include "backends/cpu/cpu_backend.h"

#include <chrono>
#include <unordered_map>

#include "backends/cpu/kernels.h"
#include "ir/graph.h"
#include "engine/graph_io.h"
#include "engine/plan_format.h"

namespace kiln::cpu {

namespace {

// For each value, the index of the last node reading it, so tensors are freed early.
std::vector<int> last_uses(const ir::Graph& g) {
  std::vector<int> last(g.values.size(), -1);
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (int i : g.nodes[n].inputs) if (i != ir::kNoValue) last[i] = static_cast<int>(n);
  for (int o : g.outputs) last[o] = static_cast<int>(g.nodes.size());
  return last;
}

class CpuContext : public ExecutionContext {
 public:
  explicit CpuContext(const ir::Graph& graph) : graph_(graph), last_use_(last_uses(graph)) {}

  Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) override {
    const auto start = std::chrono::steady_clock::now();
    try {
      *outputs = execute(inputs);
    } catch (const Error& e) {
      return Status::from_error(e);
    } catch (const std::exception& e) {
      return Status(ErrorCode::kInternal, e.what());
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    timing_ = {ms, ms};
    return {};
  }
  RunTiming last_timing() const override { return timing_; }

  std::vector<Tensor> execute(const std::vector<Tensor>& inputs) {
    check_inputs(graph_, inputs);
    std::vector<Tensor> live(graph_.values.size());
    for (size_t i = 0; i < inputs.size(); ++i) live[graph_.inputs[i]] = inputs[i];
    std::vector<const Tensor*> args;
    for (size_t n = 0; n < graph_.nodes.size(); ++n) {
      const ir::Node& node = graph_.nodes[n];
      args.clear();
      for (int i : node.inputs) {
        if (i == ir::kNoValue) { args.push_back(nullptr); continue; }
        const ir::Value& v = graph_.value(i);
        args.push_back(v.constant ? &*v.constant : &live[i]);
      }
      std::vector<Tensor> results = run_node(node, args);
      KILN_CHECK(results.size() >= node.outputs.size(), "node \"{}\" ({}): kernel returned {} outputs, expected {}",
                 node.name, node.op, results.size(), node.outputs.size());
      for (size_t k = 0; k < node.outputs.size(); ++k) live[node.outputs[k]] = std::move(results[k]);
      for (int i : node.inputs)  // free activations no later node reads
        if (i != ir::kNoValue && last_use_[i] == static_cast<int>(n)) live[i] = Tensor();
    }
    std::vector<Tensor> out;
    for (int o : graph_.outputs) {
      const ir::Value& v = graph_.value(o);
      out.push_back(v.constant ? *v.constant : live[o]);
    }
    return out;
  }

 private:
  const ir::Graph& graph_;
  std::vector<int> last_use_;
  RunTiming timing_;
};

class CpuEngine : public Engine {
 public:
  CpuEngine(ir::Graph graph, Precision precision)
      : graph_(std::move(graph)), precision_(precision),
        inputs_(graph_inputs(graph_)), outputs_(graph_outputs(graph_)) {}

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  std::string device() const override { return "cpu"; }
  Precision precision() const override { return precision_; }
  int max_batch_size() const override { return 1 << 16; }
  std::unique_ptr<ExecutionContext> create_context() override { return std::make_unique<CpuContext>(graph_); }
  void save_plan(const std::string& path) const override {
    Plan plan;
    plan.graph = graph_;
    plan.backend = "cpu";
    plan.precision = precision_;
    plan.max_batch_size = max_batch_size();
    kiln::save_plan(plan, path);
  }

 private:
  ir::Graph graph_;
  Precision precision_;
  std::vector<TensorInfo> inputs_, outputs_;
};

bool has_qdq_nodes(const ir::Graph& graph) {
  for (const ir::Node& n : graph.nodes)
    if (n.op == "QuantizeLinear" || n.op == "DequantizeLinear") return true;
  return false;
}

class CpuBackend : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  std::vector<std::pair<std::string, std::string>> unsupported_ops(const ir::Graph& graph) const override {
    std::vector<std::pair<std::string, std::string>> missing;
    for (const ir::Node& n : graph.nodes) {
      if (has_kernel(n.op)) continue;
      bool seen = false;
      for (auto& m : missing) seen = seen || m.first == n.op;
      if (!seen) missing.emplace_back(n.op, n.name);
    }
    return missing;
  }
  std::unique_ptr<Engine> build(const ir::Graph& graph, const BuildOptions& options) override {
    auto missing = unsupported_ops(graph);
    if (!missing.empty()) fail_with(ErrorCode::kUnimplemented, "{}", describe_unsupported(missing, "the CPU backend"));
    // INT8 here means a graph whose quantization is explicit (Q/DQ pairs, run as written):
    // a Q/DQ model, or the simulation of the INT8 scheme that make_backend("cpu") builds
    // from a calibrated float graph (quant/int8_simulation.h).
    const bool int8_graph = options.precision == Precision::kINT8 && has_qdq_nodes(graph);
    if (options.precision != Precision::kNative && options.precision != Precision::kFP32 && !int8_graph)
      fail_with(ErrorCode::kUnimplemented,
                "the CPU backend runs native, fp32 and int8 (simulated) only (asked for {}); use --device cuda for {}",
                precision_name(options.precision), precision_name(options.precision));
    return std::make_unique<CpuEngine>(graph, options.precision);
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

std::vector<Tensor> run_graph(const ir::Graph& graph, const std::vector<Tensor>& inputs) {
  CpuContext ctx(graph);
  return ctx.execute(inputs);
}

}  // namespace kiln::cpu
