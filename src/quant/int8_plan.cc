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
                         const std::set<std::string>* only) {
  Int8Plan plan;
  plan.conv_runs_int8.assign(g.nodes.size(), false);
  plan.value_is_int8.assign(g.values.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    plan.conv_runs_int8[i] = (!only || only->count(g.nodes[i].name)) &&
                             conv_can_run_int8(g, g.nodes[i], table, min_input_channels);
  std::vector<bool> is_output(g.values.size(), false);
  for (int v : g.outputs) is_output[v] = true;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!plan.conv_runs_int8[i]) continue;
    const int y = g.nodes[i].outputs[0];
    bool all_int8 = !is_output[y];
    for (int c : g.consumers(y)) {
      const ir::Node& consumer = g.nodes[c];
      bool as_x_or_z = consumer.inputs[0] == y || (consumer.has_input(3) && consumer.inputs[3] == y);
      for (size_t k = 0; k < consumer.inputs.size(); ++k)
        if (consumer.inputs[k] == y && k != 0 && k != 3) as_x_or_z = false;
      all_int8 = all_int8 && plan.conv_runs_int8[c] && as_x_or_z;
    }
    plan.value_is_int8[y] = all_int8;
  }
  return plan;
}

}  // namespace kiln::quant
