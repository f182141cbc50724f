#include "quant/int8_simulation.h"

#include <map>

#include "quant/calibration.h"
#include "quant/int8_plan.h"
#include "quant/int8_reference.h"

namespace kiln::quant {

namespace {

// x -> QuantizeLinear -> DequantizeLinear with a symmetric int8 scale; returns the
// dequantized value.
int fake_quant(ir::Graph& g, int x, float scale, const std::string& name) {
  const int s = g.add_constant(name + ":s", Tensor::scalar<float>(scale));
  const int z = g.add_constant(name + ":z", Tensor::scalar<int8_t>(0));
  const int q = g.add_value(name + ":q", DType::kI8, g.value(x).dims);
  const int dq = g.add_value(name + ":dq", DType::kF32, g.value(x).dims);
  ir::Node qn;
  qn.name = name + ":quant";
  qn.op = "QuantizeLinear";
  qn.inputs = {x, s, z};
  qn.outputs = {q};
  ir::Node dn;
  dn.name = name + ":dequant";
  dn.op = "DequantizeLinear";
  dn.inputs = {q, s, z};
  dn.outputs = {dq};
  g.add_node(std::move(qn));
  g.add_node(std::move(dn));
  return dq;
}

// Weights on their per-output-channel INT8 grid, back in f32.
Tensor weights_on_int8_grid(const Tensor& w) {
  const std::vector<float> scales = per_channel_scales(w, 0);
  const Tensor q = quantize_per_channel(w, scales);
  Tensor out(DType::kF32, w.dims());
  const int64_t inner = w.numel() / w.dim(0);
  for (int64_t e = 0; e < w.numel(); ++e) out.data<float>()[e] = q.data<int8_t>()[e] * scales[e / inner];
  return out;
}

}  // namespace

ir::Graph simulate_int8(const ir::Graph& optimized, const CalibrationTable& table, int min_input_channels) {
  const Int8Plan plan = plan_int8_convs(optimized, table, min_input_channels);
  ir::Graph g = optimized;
  g.nodes.clear();
  std::map<int, int> quantized;  // value -> its fake-quantized form (one per value)
  auto q_of = [&](int v) {
    if (auto it = quantized.find(v); it != quantized.end()) return it->second;
    const std::string name = g.value(v).name;  // a copy: fake_quant grows g.values
    return quantized[v] = fake_quant(g, v, table.int8_scale(name), name);
  };
  for (size_t i = 0; i < optimized.nodes.size(); ++i) {
    ir::Node n = optimized.nodes[i];
    if (plan.conv_runs_int8[i]) {
      n.inputs[0] = q_of(n.inputs[0]);
      // A residual joins in INT8 when its producer wrote it as INT8.
      if (n.has_input(3) && plan.value_is_int8[static_cast<size_t>(n.inputs[3])]) n.inputs[3] = q_of(n.inputs[3]);
      Tensor grid = weights_on_int8_grid(*g.value(n.inputs[1]).constant);
      n.inputs[1] = g.add_constant(n.name + ":w_int8_grid", std::move(grid));
    }
    g.add_node(std::move(n));
  }
  return g;
}

}  // namespace kiln::quant
