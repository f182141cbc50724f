// Q/DQ folding (quant/qdq_folding.h) on a small exporter-style graph: the pairs become
// ReLUs, nothing, or Clips, the tensors get the pairs' ranges, weights become floats, and
// the folded float graph computes what the Q/DQ graph does up to the quantization grid.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backends/cpu/cpu_backend.h"
#include "ir/shape_inference.h"
#include "quant/qdq_folding.h"

namespace kiln::quant {
namespace {

class QdqGraph {
 public:
  QdqGraph() {
    x_ = g.add_value("x", DType::kF32, {1, 4, 6, 6});
    g.inputs = {x_};
  }
  // Q -> DQ of `v` with a per-tensor scale and zero point of `type`; returns the DQ output.
  int qdq(int v, float scale, int zero_point, DType type, const std::string& name) {
    const int s = g.add_constant(name + "_scale", Tensor::scalar<float>(scale));
    const int zp = g.add_constant(name + "_zp", type == DType::kU8 ? Tensor::scalar<uint8_t>(static_cast<uint8_t>(zero_point))
                                                                   : Tensor::scalar<int8_t>(static_cast<int8_t>(zero_point)));
    const int q = g.add_value(name + "_quantized");
    const int d = g.add_value(name + "_dequantized");
    g.add_node(ir::Node{name + "_q", "QuantizeLinear", "", {v, s, zp}, {q}, {}});
    g.add_node(ir::Node{name + "_dq", "DequantizeLinear", "", {q, s, zp}, {d}, {}});
    return d;
  }
  // A 3x3 conv, pad 1, with per-channel int8 weights and an int32 bias behind DequantizeLinear.
  int conv(int v, int64_t c, int64_t k, float x_scale, const std::string& name) {
    std::mt19937 rng(static_cast<unsigned>(k * 31 + c));
    std::uniform_int_distribution<int> q(-127, 127);
    std::vector<int8_t> w(static_cast<size_t>(k * c * 9));
    for (auto& e : w) e = static_cast<int8_t>(q(rng));
    std::vector<float> w_scale(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) w_scale[static_cast<size_t>(i)] = 0.002f * static_cast<float>(i + 1);
    std::vector<int32_t> b(static_cast<size_t>(k));
    std::vector<float> b_scale(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) {
      b[static_cast<size_t>(i)] = static_cast<int32_t>(q(rng) * 10);
      b_scale[static_cast<size_t>(i)] = x_scale * w_scale[static_cast<size_t>(i)];
    }
    const int wq = g.add_constant(name + "_wq", Tensor::from_vector<int8_t>({k, c, 3, 3}, w));
    const int ws = g.add_constant(name + "_ws", Tensor::from_vector<float>({k}, w_scale));
    const int wz = g.add_constant(name + "_wz", Tensor::from_vector<int8_t>({k}, std::vector<int8_t>(static_cast<size_t>(k), 0)));
    const int bq = g.add_constant(name + "_bq", Tensor::from_vector<int32_t>({k}, b));
    const int bs = g.add_constant(name + "_bs", Tensor::from_vector<float>({k}, b_scale));
    const int wd = g.add_value(name + "_w");
    const int bd = g.add_value(name + "_b");
    ir::Node dw{name + "_wdq", "DequantizeLinear", "", {wq, ws, wz}, {wd}, {}};
    dw.attrs.set("axis", int64_t{0});
    ir::Node db{name + "_bdq", "DequantizeLinear", "", {bq, bs}, {bd}, {}};
    db.attrs.set("axis", int64_t{0});
    g.add_node(std::move(dw));
    g.add_node(std::move(db));
    const int y = g.add_value(name + "_out");
    ir::Node n{name, "Conv", "", {v, wd, bd}, {y}, {}};
    n.attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
    g.add_node(std::move(n));
    return y;
  }
  int maxpool(int v) {
    const int y = g.add_value("pool_out");
    ir::Node n{"pool", "MaxPool", "", {v}, {y}, {}};
    n.attrs.set("kernel_shape", std::vector<int64_t>{2, 2});
    n.attrs.set("strides", std::vector<int64_t>{2, 2});
    g.add_node(std::move(n));
    return y;
  }
  int input() const { return x_; }
  ir::Graph g;

 private:
  int x_;
};

ir::Graph exporter_style_graph() {
  QdqGraph b;
  int v = b.qdq(b.input(), 0.02f, 0, DType::kU8, "in");      // u8 zp 0: a ReLU on the input
  v = b.conv(v, 4, 8, 0.02f, "conv1");
  v = b.qdq(v, 0.2f, 0, DType::kU8, "act1");                 // the conv's folded ReLU
  v = b.maxpool(v);
  v = b.qdq(v, 0.2f, 0, DType::kU8, "pool");                 // already non-negative: nothing
  v = b.conv(v, 8, 6, 0.2f, "conv2");
  v = b.qdq(v, 0.5f, 0, DType::kI8, "sym");                  // symmetric: nothing
  v = b.qdq(v, 0.5f, 120, DType::kU8, "asym");               // asymmetric: a Clip
  b.g.outputs = {v};
  ir::infer_shapes(b.g);
  return b.g;
}

Tensor seeded_input() {
  Tensor t(DType::kF32, {1, 4, 6, 6});
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.5f, 1.0f);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

int count_ops(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op == op;
  return n;
}

TEST(QdqFolding, PairsBecomeRangesReluClipOrNothing) {
  ir::Graph g = exporter_style_graph();
  const QdqFolding f = fold_qdq(g);
  EXPECT_EQ(count_ops(g, "QuantizeLinear") + count_ops(g, "DequantizeLinear"), 0);
  EXPECT_EQ(f.pairs, 5);
  EXPECT_EQ(f.constants, 4);  // two weights, two biases
  EXPECT_EQ(f.relus, 2);      // the input's and conv1's; the pool's output is known non-negative
  EXPECT_EQ(f.clips, 1);
  EXPECT_EQ(count_ops(g, "Relu"), 2);
  EXPECT_EQ(count_ops(g, "Clip"), 1);
  const auto& t = f.table.thresholds;
  EXPECT_FLOAT_EQ(t.at("in_dequantized"), 255 * 0.02f);
  EXPECT_FLOAT_EQ(t.at("act1_dequantized"), 255 * 0.2f);
  EXPECT_FLOAT_EQ(t.at("pool_out"), 255 * 0.2f);           // the pair vanished: its input carries the range
  EXPECT_FLOAT_EQ(t.at("conv2_out"), 128 * 0.5f);          // symmetric int8: max(128 s, 127 s)
  EXPECT_FLOAT_EQ(t.at("asym_dequantized"), 135 * 0.5f);  // max(120 s, 135 s)
  EXPECT_EQ(f.table.calibrator, "qdq");
  EXPECT_NO_THROW(ir::verify(g));
}

TEST(QdqFolding, FoldedGraphMatchesTheQdqGraphUpToTheGrid) {
  const ir::Graph original = exporter_style_graph();
  ir::Graph folded = original;
  fold_qdq(folded);
  const Tensor x = seeded_input();
  const Tensor want = cpu::run_graph(original, {x})[0];
  const Tensor got = cpu::run_graph(folded, {x})[0];
  ASSERT_EQ(got.dims(), want.dims());
  double num = 0, den = 0, low = 1e9;
  for (size_t i = 0; i < got.span<float>().size(); ++i) {
    const double a = got.span<float>()[i], b = want.span<float>()[i];
    num += (a - b) * (a - b);
    den += b * b;
    low = std::min(low, a);
  }
  // Ranges wide enough that nothing saturates: what differs is the rounding to each grid.
  EXPECT_LT(std::sqrt(num / den), 0.05);
  EXPECT_GE(low, -120 * 0.5 - 1e-6);
}

TEST(QdqFolding, UnpairedQuantizeIsRefusedByName) {
  QdqGraph b;
  const int s = b.g.add_constant("s", Tensor::scalar<float>(0.1f));
  const int q = b.g.add_value("q");
  b.g.add_node(ir::Node{"lonely_q", "QuantizeLinear", "", {b.input(), s}, {q}, {}});
  const int y = b.g.add_value("y");
  b.g.add_node(ir::Node{"cast", "Cast", "", {q}, {y}, {}});
  b.g.nodes.back().attrs.set("to", int64_t{1});
  b.g.outputs = {y};
  ir::infer_shapes(b.g);
  try {
    fold_qdq(b.g);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lonely_q"), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), ErrorCode::kUnimplemented);
  }
}

}  // namespace
}  // namespace kiln::quant
