// The INT8 lowering of the CUDA backend on zoo ResNet-50 (host code only, no GPU needed):
// which convolutions run in INT8, where activations stay INT8, and the device constants.
#ifdef KILN_HAVE_CUDA

#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "backends/cuda/int8/int8_lowering.h"
#include "backends/cuda/lower_for_device.h"
#include "engine/plan_format.h"
#include "frontends/onnx/onnx_importer.h"
#include "passes/pipeline.h"
#include "zoo/zoo.h"

namespace kiln::cuda {
namespace {

Tensor random_tensor(Dims dims, uint32_t seed) {
  Tensor t(DType::kF32, std::move(dims));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

// The zoo ResNet-50, optimized for INT8.
ir::Graph optimized_resnet50() {
  ir::Graph g = onnx::import_onnx_model(zoo::build_zoo_model("resnet50"), "zoo:resnet50", "");
  passes::optimize_for_inference(g, Precision::kINT8);
  return g;
}

// A calibration table giving every activation of `g` the same range (host-side tests only
// look at which layers are quantized, not at the values).
quant::CalibrationTable uniform_table(const ir::Graph& g) {
  quant::CalibrationTable table;
  for (const ir::Value& v : g.values)
    if (!v.is_constant()) table.thresholds[v.name] = 4.0f;
  return table;
}

TEST(Int8Lowering, ResNet50ConvsRunInInt8WithInt8ActivationsBetweenThem) {
  ir::Graph g = onnx::import_onnx_model(zoo::build_zoo_model("resnet50"), "zoo:resnet50", "");
  passes::optimize_for_inference(g, Precision::kINT8);
  int batches = 0;
  const quant::CalibrationTable table = quant::calibrate(
      g, [&](std::vector<Tensor>& in) { in = {random_tensor({1, 3, 224, 224}, 5)}; return batches++ < 1; },
      quant::CalibratorKind::kMinMax);
  const LoweredGraph low = lower_for_device(g, Precision::kINT8, 4, &table);
  std::map<std::string, int> ops;
  for (const ir::Node& n : low.graph.nodes) ++ops[n.op];
  EXPECT_EQ(ops["Int8Conv"], 53);
  EXPECT_EQ(ops["FusedConv"] + ops["Conv"], 0);
  // Only the input (before conv1) is quantized: the max pool runs on conv1's INT8 output,
  // and every other convolution reads the INT8 output of another one (or of the pool).
  EXPECT_EQ(ops["QuantizeInt8"], 1);
  EXPECT_EQ(ops["MaxPool"], 1);
  int int8_outputs = 0;
  for (const ir::Node& n : low.graph.nodes) {
    if (n.op != "Int8Conv") continue;
    const ir::Value& x = low.graph.value(n.inputs[0]);
    const ir::Value& w = low.graph.value(n.inputs[1]);
    const ir::Value& y = low.graph.value(n.outputs[0]);
    EXPECT_EQ(x.dtype, DType::kI8) << n.name;
    EXPECT_EQ(w.dtype, DType::kI8) << n.name;
    EXPECT_EQ(x.dims[1] % 4, 0) << n.name;
    EXPECT_EQ(w.dims[1], x.dims[1]) << n.name;
    EXPECT_EQ(low.layouts[n.inputs[0]], Layout::kNHWC) << n.name;
    int8_outputs += y.dtype == DType::kI8;
    if (y.dtype == DType::kI8) {
      EXPECT_GT(n.attrs.get_float("y_inv_scale", 0), 0) << n.name;
    }
  }
  EXPECT_EQ(int8_outputs, 52);  // all but the last (into the average pool)
  // The pool passes INT8 through in NHWC, and conv1 quantizes with the pool output's scale.
  for (const ir::Node& pool : low.graph.nodes) {
    if (pool.op != "MaxPool") continue;
    const int x = pool.inputs[0], y = pool.outputs[0];
    EXPECT_EQ(low.graph.value(x).dtype, DType::kI8);
    EXPECT_EQ(low.graph.value(y).dtype, DType::kI8);
    EXPECT_EQ(low.layouts[x], Layout::kNHWC);
    EXPECT_EQ(low.layouts[y], Layout::kNHWC);
    EXPECT_EQ(low.graph.value(y).dims[1], low.graph.value(x).dims[1]);
    const ir::Node* conv1 = nullptr;
    for (const ir::Node& n : low.graph.nodes)
      if (!n.outputs.empty() && n.outputs[0] == x) conv1 = &n;
    ASSERT_NE(conv1, nullptr);
    EXPECT_EQ(conv1->op, "Int8Conv");
    EXPECT_FLOAT_EQ(conv1->attrs.get_float("y_inv_scale", 0), 1.0f / table.int8_scale(low.graph.value(y).name));
  }
}

// Which max pools run on quantized values (quant/int8_plan.h): only between quantized
// convolutions, only when asked (INT8 builds), and only with the pool output calibrated.
TEST(Int8Plan, MaxPoolRunsQuantizedOnlyBetweenQuantizedConvolutions) {
  ir::Graph g = optimized_resnet50();
  quant::CalibrationTable table = uniform_table(g);
  int pool = -1;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].op == "MaxPool") pool = static_cast<int>(i);
  ASSERT_GE(pool, 0);
  const int x = g.nodes[pool].inputs[0], y = g.nodes[pool].outputs[0];

  const int8::Int8Plan with = int8::plan_int8_convs(g, table, 16, nullptr, true);
  EXPECT_TRUE(with.pool_runs_int8[pool]);
  EXPECT_TRUE(with.value_is_int8[x]);
  EXPECT_TRUE(with.value_is_int8[y]);
  EXPECT_EQ(with.scale_of[x], y);
  EXPECT_EQ(with.scale_of[y], y);

  // Not asked for (FP8 builds, the CPU simulation): the pool stays float, conv1 writes float.
  const int8::Int8Plan without = int8::plan_int8_convs(g, table, 16);
  EXPECT_FALSE(without.pool_runs_int8[pool]);
  EXPECT_FALSE(without.value_is_int8[x]);
  EXPECT_EQ(without.scale_of[x], x);

  // A reader of the pool output in FP16 (best's allow-set without layer1.0.conv1).
  std::set<std::string> allowed;
  for (const ir::Node& n : g.nodes)
    if (n.op == "Conv" || n.op == "FusedConv") allowed.insert(n.name);
  for (int c : g.consumers(y)) allowed.erase(g.nodes[c].name);
  const int8::Int8Plan fp16_reader = int8::plan_int8_convs(g, table, 16, &allowed, true);
  EXPECT_FALSE(fp16_reader.pool_runs_int8[pool]);
  EXPECT_FALSE(fp16_reader.value_is_int8[x]);

  // No calibrated range for the pool output: nothing to quantize conv1 with.
  table.thresholds.erase(g.value(y).name);
  EXPECT_FALSE(int8::plan_int8_convs(g, table, 16, nullptr, true).pool_runs_int8[pool]);
}

// By default (16 input channels at least) the RGB stem stays in FP16 and everything else is
// as above.
TEST(Int8Lowering, NarrowStemRunsQuantizedThroughSpaceToDepth) {
  ir::Graph g = optimized_resnet50();
  quant::CalibrationTable table = uniform_table(g);
  const int8::Int8Plan plan = int8::plan_int8_convs(g, table, 16);
  int int8_convs = 0, first_conv = -1;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const bool conv = g.nodes[i].op == "Conv" || g.nodes[i].op == "FusedConv";
    if (conv && first_conv < 0) first_conv = static_cast<int>(i);
    int8_convs += plan.conv_runs_int8[i];
  }
  ASSERT_GE(first_conv, 0);
  // The 7x7/2 RGB stem is rewritten, so all 53 convolutions run quantized.
  EXPECT_TRUE(plan.conv_runs_int8[static_cast<size_t>(first_conv)]);
  EXPECT_EQ(int8_convs, 53);

  // Lowered with the default minimum: the input quantized into a [n, 16, 115, 115] image and
  // the stem as a 4x4 stride-1 convolution over it.
  const char* old_min = std::getenv("KILN_INT8_MIN_CHANNELS");
  const std::string restore = old_min ? old_min : "";
  ::setenv("KILN_INT8_MIN_CHANNELS", "16", 1);
  const LoweredGraph low = lower_for_device(g, Precision::kINT8, 2, &table);
  if (restore.empty()) ::unsetenv("KILN_INT8_MIN_CHANNELS");
  else ::setenv("KILN_INT8_MIN_CHANNELS", restore.c_str(), 1);
  const ir::Node* quantize = nullptr;
  const ir::Node* stem = nullptr;
  for (const ir::Node& n : low.graph.nodes) {
    if (n.op == "QuantizeInt8" && n.attrs.has("space_to_depth")) quantize = &n;
    if (n.op == "Int8Conv" && n.name == g.nodes[static_cast<size_t>(first_conv)].name) stem = &n;
  }
  ASSERT_NE(quantize, nullptr);
  ASSERT_NE(stem, nullptr);
  EXPECT_EQ(quantize->attrs.get_ints("space_to_depth"), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(low.graph.value(quantize->outputs[0]).dims, (Dims{2, 16, 115, 115}));
  EXPECT_EQ(stem->inputs[0], quantize->outputs[0]);
  EXPECT_EQ(low.graph.value(stem->inputs[1]).dims, (Dims{64, 16, 4, 4}));
  EXPECT_EQ(stem->attrs.get_ints("strides"), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(stem->attrs.get_ints("pads"), (std::vector<int64_t>{0, 0, 0, 0}));
}

// A plan keeps the INT8 weights, scale vectors and requantization attributes exactly.
TEST(Int8Lowering, PlanRoundTripKeepsScalesAndInt8Weights) {
  ir::Graph g = onnx::import_onnx_model(zoo::build_zoo_model("resnet50"), "zoo:resnet50", "");
  passes::optimize_for_inference(g, Precision::kINT8);
  quant::CalibrationTable table;
  for (const ir::Value& v : g.values)
    if (!v.is_constant()) table.thresholds[v.name] = 1.0f + static_cast<float>(v.name.size()) / 7.0f;
  const LoweredGraph low = lower_for_device(g, Precision::kINT8, 2, &table);
  Plan plan;
  plan.graph = low.graph;
  plan.backend = "cuda";
  plan.precision = Precision::kINT8;
  const std::string path = ::testing::TempDir() + "/int8_roundtrip.plan";
  save_plan(plan, path);
  const Plan back = load_plan(path);
  EXPECT_EQ(back.precision, Precision::kINT8);
  ASSERT_EQ(back.graph.nodes.size(), low.graph.nodes.size());
  int checked = 0;
  for (size_t i = 0; i < low.graph.nodes.size(); ++i) {
    const ir::Node& a = low.graph.nodes[i];
    const ir::Node& b = back.graph.nodes[i];
    ASSERT_EQ(a.op, b.op);
    ASSERT_EQ(a.domain, b.domain);
    if (a.op != "Int8Conv") continue;
    EXPECT_EQ(a.attrs.get_float("y_inv_scale", 0), b.attrs.get_float("y_inv_scale", 0)) << a.name;
    EXPECT_EQ(a.attrs.get_float("z_scale", 0), b.attrs.get_float("z_scale", 0)) << a.name;
    EXPECT_EQ(a.attrs.get_int("relu", 0), b.attrs.get_int("relu", 0)) << a.name;
    for (size_t k = 1; k < 4; ++k) {
      const Tensor& ta = *low.graph.value(a.inputs[k]).constant;
      const Tensor& tb = *back.graph.value(b.inputs[k]).constant;
      ASSERT_EQ(ta.dtype(), tb.dtype());
      ASSERT_EQ(ta.dims(), tb.dims());
      EXPECT_EQ(std::memcmp(ta.raw(), tb.raw(), ta.nbytes()), 0) << a.name << " input " << k;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 53);
  std::remove(path.c_str());
}

TEST(Int8Lowering, ConstantsArePaddedAndScaledPerChannel) {
  Tensor w = random_tensor({5, 3, 3, 3}, 9);
  const Tensor b = random_tensor({5}, 10);
  const int8::Int8ConvConstants k = int8::int8_conv_constants(w, &b, 0.5f, 4);
  EXPECT_EQ(k.weights.dims(), (Dims{8, 4, 3, 3}));
  EXPECT_EQ(k.scale.dim(0), 8);
  const std::vector<float> sw = quant::per_channel_scales(w, 0);
  for (int c = 0; c < 5; ++c) {
    EXPECT_FLOAT_EQ(k.scale.data<float>()[c], 0.5f * sw[c]);
    EXPECT_FLOAT_EQ(k.bias.data<float>()[c], b.data<float>()[c]);
  }
  for (int c = 5; c < 8; ++c) EXPECT_EQ(k.bias.data<float>()[c], 0.0f);
  // KRSC order with the 4th input channel zero: element (k=1, c=2, r=0, s=1).
  const int8_t* q = k.weights.data<int8_t>();
  EXPECT_EQ(q[((1 * 3 + 0) * 3 + 1) * 4 + 2],
            static_cast<int8_t>(std::nearbyint(w.data<float>()[((1 * 3 + 2) * 3 + 0) * 3 + 1] / sw[1])));
  for (int i = 0; i < 8 * 9; ++i) EXPECT_EQ(q[i * 4 + 3], 0);
}

TEST(Int8Lowering, WithoutATableIsRefused) {
  ir::Graph g = onnx::import_onnx_model(zoo::build_zoo_model("resnet50"), "zoo:resnet50", "");
  EXPECT_THROW(lower_for_device(g, Precision::kINT8, 1, nullptr), Error);
}

}  // namespace
}  // namespace kiln::cuda

#endif  // KILN_HAVE_CUDA
