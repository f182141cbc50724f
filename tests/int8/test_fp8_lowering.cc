// The FP8 lowering of the CUDA backend on zoo ResNet-50 (host code only, no GPU needed): the
// same convolutions as INT8 become kiln.Fp8Conv with E4M3 weights padded to 16 channels and
// scales of threshold / 448, and a plan keeps them exactly.
#ifdef KILN_HAVE_CUDA

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "backends/cuda/int8/int8_lowering.h"
#include "backends/cuda/lower_for_device.h"
#include "engine/plan_format.h"
#include "frontends/onnx/onnx_importer.h"
#include "passes/pipeline.h"
#include "quant/fp8.h"
#include "zoo/zoo.h"

namespace kiln::cuda {
namespace {

TEST(Fp8Lowering, ResNet50ConvsRunInFp8AndPlansKeepThem) {
  ir::Graph g = onnx::import_onnx_model(zoo::build_zoo_model("resnet50"), "zoo:resnet50", "");
  passes::optimize_for_inference(g, Precision::kFP8);
  quant::CalibrationTable table;
  for (const ir::Value& v : g.values)
    if (!v.is_constant()) table.thresholds[v.name] = 1.0f + static_cast<float>(v.name.size()) / 7.0f;
  const LoweredGraph low = lower_for_device(g, Precision::kFP8, 2, &table);
  std::map<std::string, int> ops;
  for (const ir::Node& n : low.graph.nodes) ++ops[n.op];
  // This binary puts narrow convolutions through the quantized path (narrow_channels_env.cc),
  // so the stem runs in FP8 too.
  EXPECT_EQ(ops["Fp8Conv"], 53);
  EXPECT_EQ(ops["Int8Conv"], 0);
  // Only the image is quantized: the stem's max pool runs on its E4M3 output.
  EXPECT_EQ(ops["QuantizeFp8"], 1);
  // A convolution read by a quantized max pool quantizes with the pool output's scale.
  std::map<int, int> pooled_as;  // pool input -> pool output
  int fp8_pools = 0;
  for (const ir::Node& n : low.graph.nodes) {
    if (n.op != "MaxPool") continue;
    EXPECT_EQ(low.graph.value(n.inputs[0]).dtype, DType::kFP8E4M3) << n.name;
    EXPECT_EQ(low.graph.value(n.outputs[0]).dtype, DType::kFP8E4M3) << n.name;
    pooled_as[n.inputs[0]] = n.outputs[0];
    ++fp8_pools;
  }
  EXPECT_EQ(fp8_pools, 1);
  int fp8_outputs = 0;
  for (const ir::Node& n : low.graph.nodes) {
    if (n.op != "Fp8Conv") continue;
    const ir::Value& x = low.graph.value(n.inputs[0]);
    const ir::Value& w = low.graph.value(n.inputs[1]);
    const ir::Value& y = low.graph.value(n.outputs[0]);
    EXPECT_EQ(x.dtype, DType::kFP8E4M3) << n.name;
    EXPECT_EQ(w.dtype, DType::kFP8E4M3) << n.name;
    EXPECT_EQ(x.dims[1] % 16, 0) << n.name;
    if (y.dtype == DType::kFP8E4M3) {
      ++fp8_outputs;
      const auto pooled = pooled_as.find(n.outputs[0]);
      const std::string& scale_name = pooled == pooled_as.end() ? y.name : low.graph.value(pooled->second).name;
      EXPECT_FLOAT_EQ(n.attrs.get_float("y_inv_scale", 0), 448.0f / table.thresholds.at(scale_name)) << n.name;
    }
  }
  EXPECT_EQ(fp8_outputs, 52);

  Plan plan;
  plan.graph = low.graph;
  plan.backend = "cuda";
  plan.precision = Precision::kFP8;
  const std::string path = ::testing::TempDir() + "/fp8_roundtrip.plan";
  save_plan(plan, path);
  const Plan back = load_plan(path);
  EXPECT_EQ(back.precision, Precision::kFP8);
  ASSERT_EQ(back.graph.nodes.size(), low.graph.nodes.size());
  int checked = 0;
  for (size_t i = 0; i < low.graph.nodes.size(); ++i) {
    const ir::Node& a = low.graph.nodes[i];
    const ir::Node& b = back.graph.nodes[i];
    ASSERT_EQ(a.op, b.op);
    if (a.op != "Fp8Conv") continue;
    EXPECT_EQ(a.attrs.get_float("y_inv_scale", 0), b.attrs.get_float("y_inv_scale", 0)) << a.name;
    EXPECT_EQ(a.attrs.get_float("z_scale", 0), b.attrs.get_float("z_scale", 0)) << a.name;
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

TEST(Fp8Lowering, ConstantsAreE4M3PerChannelPaddedTo16) {
  Tensor w(DType::kF32, {5, 3, 3, 3});
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : w.span<float>()) v = dist(rng);
  const Tensor b = Tensor::from_vector<float>({5}, {1, 2, 3, 4, 5});
  const int64_t c_pad = int8::pad_channels(3, DType::kFP8E4M3);
  EXPECT_EQ(c_pad, 16);
  const int8::Int8ConvConstants k = int8::int8_conv_constants(w, &b, 0.25f, c_pad, DType::kFP8E4M3);
  EXPECT_EQ(k.weights.dtype(), DType::kFP8E4M3);
  EXPECT_EQ(k.weights.dims(), (Dims{16, 16, 3, 3}));
  const std::vector<float> sw = quant::fp8_per_channel_scales(w);
  for (int c = 0; c < 5; ++c) EXPECT_FLOAT_EQ(k.scale.data<float>()[c], 0.25f * sw[c]);
  const auto* q = static_cast<const uint8_t*>(k.weights.raw());
  // KRSC: element (k=1, c=2, r=0, s=1); each filter's largest |w| maps to 448.
  EXPECT_EQ(q[((1 * 3 + 0) * 3 + 1) * 16 + 2], quant::float_to_e4m3(w.data<float>()[((1 * 3 + 2) * 3 + 0) * 3 + 1] / sw[1]));
  float largest = 0;
  for (int i = 0; i < 9; ++i)
    for (int c = 0; c < 3; ++c) largest = std::max(largest, std::fabs(quant::e4m3_to_float(q[i * 16 + c])));
  EXPECT_FLOAT_EQ(largest, 448.0f);
  for (int i = 0; i < 16 * 9; ++i)
    for (int c = 3; c < 16; ++c) EXPECT_EQ(q[i * 16 + c], 0);
}

}  // namespace
}  // namespace kiln::cuda

#endif  // KILN_HAVE_CUDA
