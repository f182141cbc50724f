// `kiln inspect MODEL [--dump]`: what a model takes and gives, what it is made of and
// what it costs, in the spirit of `trtexec --verbose` and netron's summary pane.
#include <algorithm>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/parse_flags.h"
#include "cli/subcommands.h"
#include "ir/flops.h"
#include "ir/graph.h"
#include "runtime/model_loader.h"

namespace kiln::cli {

namespace {

// 25557032 -> "25.56 M"; 4089184256 -> "4.09 G".
std::string si(double v) {
  const char* units[] = {"", " K", " M", " G", " T", " P"};
  int u = 0;
  while (v >= 1000 && u < 5) { v /= 1000; ++u; }
  return u == 0 ? fmt::format("{:.0f}", v) : fmt::format("{:.2f}{}", v, units[u]);
}

std::string value_line(const ir::Value& v) {
  return fmt::format("  {:<24} {}{}", v.name, dtype_name(v.dtype), dims_to_string(v.dims));
}

}  // namespace

int run_inspect(int argc, char** argv) {
  CLI::App app{"Show a model's inputs, outputs, ops, parameter count and FLOPs", "kiln inspect"};
  std::string model;
  bool dump_graph = false;
  app.add_option("model", model, "ONNX model or TensorFlow graph")->required();
  app.add_flag("--dump", dump_graph, "also print every node with its shapes");
  if (auto exit_code = parse_flags(app, argc, argv)) return *exit_code;

  const ModelFormat format = detect_model_format(model);
  const ir::Graph graph = import_model(model);

  fmt::print("model:   {}\nformat:  {}\n", model, model_format_name(format));
  if (!graph.name.empty()) fmt::print("graph:   {}\n", graph.name);
  fmt::print("inputs:\n");
  for (int v : graph.inputs) fmt::print("{}\n", value_line(graph.value(v)));
  fmt::print("outputs:\n");
  for (int v : graph.outputs) fmt::print("{}\n", value_line(graph.value(v)));

  std::map<std::string, int> op_counts;
  for (const ir::Node& n : graph.nodes) ++op_counts[n.domain.empty() ? n.op : n.domain + "." + n.op];
  std::vector<std::pair<std::string, int>> ops(op_counts.begin(), op_counts.end());
  // Most frequent first, then by name, so two runs (and two models) line up.
  std::stable_sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  fmt::print("ops ({} nodes, {} types):\n", graph.nodes.size(), ops.size());
  for (const auto& [op, count] : ops) fmt::print("  {:<24} {:>6}\n", op, count);

  const int64_t params = ir::count_parameters(graph);
  fmt::print("parameters:      {} ({})\n", params, si(static_cast<double>(params)));
  const ir::FlopCount flops = ir::count_flops_per_image(graph);
  fmt::print("FLOPs per image: {} ({}FLOPs; 2 x multiply-adds of conv/gemm/matmul)\n", flops.total,
             si(static_cast<double>(flops.total)) + (flops.total >= 1000 ? "" : " "));
  for (const auto& [op, f] : flops.by_op)
    fmt::print("  {:<24} {}FLOPs ({:.1f}%)\n", op, si(static_cast<double>(f)) + (f >= 1000 ? "" : " "),
               flops.total ? 100.0 * static_cast<double>(f) / static_cast<double>(flops.total) : 0.0);
  if (flops.uncounted_nodes)
    fmt::print("  ({} node(s) not counted: their shapes are known only at run time)\n", flops.uncounted_nodes);

  if (!graph.metadata.empty()) {
    fmt::print("metadata:\n");
    for (const auto& [key, value] : graph.metadata) fmt::print("  {}: {}\n", key, value);
  }
  if (dump_graph) fmt::print("\n{}", ir::dump(graph));
  return kExitOk;
}

}  // namespace kiln::cli
