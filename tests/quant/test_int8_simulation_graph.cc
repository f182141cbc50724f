// quant::simulate_int8: Q/DQ pairs where the INT8 lowering quantizes, weights on their
// per-channel INT8 grid, and the result close to the float graph.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backends/cpu/cpu_backend.h"
#include "ir/shape_inference.h"
#include "quant/int8_simulation.h"

namespace kiln::quant {
namespace {

Tensor seeded(Dims dims, uint32_t seed, float scale) {
  Tensor t(DType::kF32, std::move(dims));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

// x [N,16,8,8] -> Conv 3x3 (16->16) -> Relu-free Conv 1x1 (16->8) -> y
ir::Graph two_convs() {
  ir::Graph g;
  const int x = g.add_value("x", DType::kF32, {1, 16, 8, 8});
  g.inputs = {x};
  const int w1 = g.add_constant("w1", seeded({16, 16, 3, 3}, 1, 0.1f));
  const int w2 = g.add_constant("w2", seeded({8, 16, 1, 1}, 2, 0.2f));
  const int h = g.add_value("h");
  const int y = g.add_value("y");
  ir::Node c1{"conv1", "Conv", "", {x, w1}, {h}, {}};
  c1.attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g.add_node(std::move(c1));
  g.add_node(ir::Node{"conv2", "Conv", "", {h, w2}, {y}, {}});
  g.outputs = {y};
  ir::infer_shapes(g);
  return g;
}

int count(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == op;
  return n;
}

TEST(Int8SimulationGraph, QuantizesConvInputsAndWeights) {
  const ir::Graph g = two_convs();
  const Tensor x = seeded({1, 16, 8, 8}, 3, 1.0f);
  const Tensor h_ref = cpu::run_graph([&] {
    ir::Graph only_first = g;
    only_first.outputs = {only_first.find_value("h")};
    return only_first;
  }(), {x})[0];
  CalibrationTable table;
  float x_max = 0, h_max = 0, y_max = 0;
  for (float v : x.span<float>()) x_max = std::max(x_max, std::fabs(v));
  for (float v : h_ref.span<float>()) h_max = std::max(h_max, std::fabs(v));
  const Tensor y_ref = cpu::run_graph(g, {x})[0];
  for (float v : y_ref.span<float>()) y_max = std::max(y_max, std::fabs(v));
  table.thresholds = {{"x", x_max}, {"h", h_max}, {"y", y_max}};

  const ir::Graph sim = simulate_int8(g, table, 1);
  EXPECT_EQ(count(sim, "QuantizeLinear"), 2);  // conv1's input and conv2's (INT8 between them)
  EXPECT_EQ(count(sim, "DequantizeLinear"), 2);
  // The weights of both convolutions lie on their per-output-channel grid of 255 levels.
  for (const ir::Node& n : sim.nodes) {
    if (n.op != "Conv") continue;
    const Tensor& w = *sim.value(n.inputs[1]).constant;
    const int64_t per = w.numel() / w.dim(0);
    for (int64_t k = 0; k < w.dim(0); ++k) {
      float m = 0;
      for (int64_t i = 0; i < per; ++i) m = std::max(m, std::fabs(w.data<float>()[k * per + i]));
      for (int64_t i = 0; i < per; ++i) {
        const double steps = w.data<float>()[k * per + i] / (m / 127.0);
        EXPECT_NEAR(steps, std::round(steps), 1e-3) << n.name << " channel " << k;
      }
    }
  }
  // Against the float graph: the error of 8-bit activations and weights, not more.
  const Tensor y = cpu::run_graph(sim, {x})[0];
  double num = 0, den = 0;
  for (size_t i = 0; i < y.span<float>().size(); ++i) {
    num += std::pow(y.span<float>()[i] - y_ref.span<float>()[i], 2);
    den += std::pow(y_ref.span<float>()[i], 2);
  }
  EXPECT_GT(num, 0.0);  // it does quantize
  EXPECT_LT(std::sqrt(num / den), 0.03);
  // With a channel minimum above 16 nothing is quantized.
  EXPECT_EQ(count(simulate_int8(g, table, 17), "QuantizeLinear"), 0);
}

}  // namespace
}  // namespace kiln::quant
