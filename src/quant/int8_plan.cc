#include "quant/int8_plan.h"

#include <cstdlib>

#include "quant/space_to_depth.h"

namespace kiln::quant {

namespace {

bool conv_can_run_int8(const ir::Graph& g, const ir::Node& n, const CalibrationTable& table,
                       int min_input_channels) {
  if (n.op != "Conv" && !(n.op == "FusedConv" && n.domain == "kiln")) return false;
  if (n.inputs.size() < 2 || g.value(n.inputs[0]).dims.size() != 4) return false;
  // Thin stride-2 stems run quantized through the space-to-depth rewrite (space_to_depth.h).
  if (g.value(n.inputs[0]).dims[1] < min_input_channels && !space_to_depth_stem(g, n)) return false;
  const ir::Value& w = g.value(n.inputs[1]);
  if (!w.is_constant() || w.dtype != DType::kF32 || w.dims.size() != 4) return false;
  if (n.has_input(2) && (!g.value(n.inputs[2]).is_constant() || g.value(n.inputs[2]).dtype != DType::kF32)) return false;
  if (n.attrs.get_int("group", 1) != 1) return false;
  const auto pads = n.attrs.get_ints("pads", {0, 0, 0, 0});
  if (pads.size() != 4 || pads[0] != pads[2] || pads[1] != pads[3]) return false;
  if (n.attrs.get_ints("strides", {1, 1}).size() != 2 || n.attrs.get_ints("dilations", {1, 1}).size() != 2) return false;
  const std::string act = n.op == "FusedConv" ? n.attrs.get_string("activation", "none") : "none";
  if (act != "none" && act != "relu") return false;
  return table.thresholds.count(g.value(n.inputs[0]).name) && table.thresholds.count(g.value(n.outputs[0]).name);
}

// Whether every reader of `v` is a quantized convolution reading it as X or Z.
bool read_only_by_quantized_convs(const ir::Graph& g, int v, const std::vector<bool>& conv_runs_int8) {
  for (int c : g.consumers(v)) {
    const ir::Node& consumer = g.nodes[c];
    if (!conv_runs_int8[c]) return false;
    for (size_t k = 0; k < consumer.inputs.size(); ++k)
      if (consumer.inputs[k] == v && k != 0 && k != 3) return false;
  }
  return true;
}

// A 2-D MaxPool with one output and explicit pads (what the GPU's quantized pool runs).
bool plain_max_pool(const ir::Graph& g, const ir::Node& n) {
  if (n.op != "MaxPool" || !n.domain.empty() || n.inputs.empty() || n.outputs.size() != 1) return false;
  if (g.value(n.inputs[0]).dims.size() != 4) return false;
  if (n.attrs.get_ints("kernel_shape", {}).size() != 2) return false;
  if (n.attrs.get_ints("strides", {1, 1}).size() != 2 || n.attrs.get_ints("pads", {0, 0, 0, 0}).size() != 4) return false;
  for (int64_t d : n.attrs.get_ints("dilations", {1, 1}))
    if (d != 1) return false;
  const std::string auto_pad = n.attrs.get_string("auto_pad", "NOTSET");
  return (auto_pad == "NOTSET" || auto_pad.empty()) && n.attrs.get_int("storage_order", 0) == 0;
}

}  // namespace

int min_int8_input_channels() {
  if (const char* env = std::getenv("KILN_INT8_MIN_CHANNELS"); env && *env) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (*end != '\0' || v < 1 || v > 65536) fail("KILN_INT8_MIN_CHANNELS=\"{}\": expected a channel count >= 1", env);
    return static_cast<int>(v);
  }
  return 16;
}

Int8Plan plan_int8_convs(const ir::Graph& g, const CalibrationTable& table, int min_input_channels,
                         const std::set<std::string>* only, bool quantized_max_pools) {
  Int8Plan plan;
  plan.conv_runs_int8.assign(g.nodes.size(), false);
  plan.pool_runs_int8.assign(g.nodes.size(), false);
  plan.value_is_int8.assign(g.values.size(), false);
  plan.scale_of.resize(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) plan.scale_of[v] = static_cast<int>(v);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    plan.conv_runs_int8[i] = (!only || only->count(g.nodes[i].name)) &&
                             conv_can_run_int8(g, g.nodes[i], table, min_input_channels);
  std::vector<bool> is_output(g.values.size(), false);
  for (int v : g.outputs) is_output[v] = true;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!plan.conv_runs_int8[i]) continue;
    const int y = g.nodes[i].outputs[0];
    plan.value_is_int8[y] = !is_output[y] && read_only_by_quantized_convs(g, y, plan.conv_runs_int8);
  }
  if (!quantized_max_pools) return plan;
  std::vector<int> producer(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int v : g.nodes[i].outputs)
      if (v >= 0) producer[static_cast<size_t>(v)] = static_cast<int>(i);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& pool = g.nodes[i];
    if (!plain_max_pool(g, pool)) continue;
    const int x = pool.inputs[0], y = pool.outputs[0];
    const int from = producer[static_cast<size_t>(x)];
    if (from < 0 || !plan.conv_runs_int8[static_cast<size_t>(from)] || is_output[x] || is_output[y]) continue;
    if (g.consumers(x).size() != 1 || g.consumers(y).empty() || !table.thresholds.count(g.value(y).name)) continue;
    if (!read_only_by_quantized_convs(g, y, plan.conv_runs_int8)) continue;
    plan.pool_runs_int8[i] = true;
    plan.value_is_int8[x] = plan.value_is_int8[y] = true;
    plan.scale_of[x] = y;
  }
  return plan;
}

}  // namespace kiln::quant
