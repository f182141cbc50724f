// The CPU INT8 convolution (the oracle of the GPU INT8 path) against the float convolution
// of the CPU backend on the same integer values: sums of int8 products are exact in f32
// up to 2^24, so the two must agree exactly.
#include <random>

#include <gtest/gtest.h>

#include "backends/cpu/cpu_backend.h"
#include "ir/shape_inference.h"
#include "quant/calibration.h"
#include "quant/int8_reference.h"

namespace kiln::quant {
namespace {

Tensor random_int8(Dims dims, uint32_t seed) {
  Tensor t(DType::kI8, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-128, 127);
  for (int8_t& v : t.span<int8_t>()) v = static_cast<int8_t>(dist(rng));
  return t;
}

struct Case {
  const char* name;
  int64_t n, c, h, w, k, r, stride, pad, dilation;
};

class Int8ConvReference : public ::testing::TestWithParam<Case> {};

TEST_P(Int8ConvReference, MatchesFloatConvOfTheSameIntegers) {
  const Case c = GetParam();
  const Tensor x = random_int8({c.n, c.c, c.h, c.w}, 11);
  const Tensor w = random_int8({c.k, c.c, c.r, c.r}, 12);
  ConvGeometry geo;
  geo.pads = {c.pad, c.pad, c.pad, c.pad};
  geo.strides = {c.stride, c.stride};
  geo.dilations = {c.dilation, c.dilation};
  const Tensor acc = int8_conv_accumulate(x, w, geo);

  ir::Graph g;
  const int xv = g.add_value("x", DType::kF32, x.dims());
  const int wv = g.add_constant("w", w.cast(DType::kF32));
  const int yv = g.add_value("y");
  ir::Node node;
  node.name = "conv";
  node.op = "Conv";
  node.inputs = {xv, wv};
  node.outputs = {yv};
  node.attrs.set("pads", geo.pads);
  node.attrs.set("strides", geo.strides);
  node.attrs.set("dilations", geo.dilations);
  node.attrs.set("kernel_shape", std::vector<int64_t>{c.r, c.r});
  g.add_node(std::move(node));
  g.inputs = {xv};
  g.outputs = {yv};
  ir::infer_shapes(g);
  const Tensor want = cpu::run_graph(g, {x.cast(DType::kF32)})[0];
  ASSERT_EQ(acc.dims(), want.dims());
  auto got = acc.span<int32_t>();
  auto ref = want.span<float>();
  bool nonzero = false;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(static_cast<float>(got[i]), ref[i]) << c.name << " element " << i;
    nonzero = nonzero || got[i] != 0;
  }
  EXPECT_TRUE(nonzero);
}

INSTANTIATE_TEST_SUITE_P(Shapes, Int8ConvReference,
                         ::testing::Values(Case{"k3_pad1", 2, 8, 9, 9, 16, 3, 1, 1, 1},
                                           Case{"odd_channels_stride2", 1, 5, 11, 7, 13, 3, 2, 1, 1},
                                           Case{"pointwise", 3, 12, 4, 4, 7, 1, 1, 0, 1},
                                           Case{"dilated", 1, 3, 12, 12, 4, 3, 1, 2, 2},
                                           Case{"k7_stride2", 1, 3, 20, 20, 8, 7, 2, 3, 1}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Int8Quantize, RoundsHalfToEvenAndSaturates) {
  EXPECT_EQ(quantize_int8(2.5f, 1.0f), 2);
  EXPECT_EQ(quantize_int8(3.5f, 1.0f), 4);
  EXPECT_EQ(quantize_int8(-2.5f, 1.0f), -2);
  EXPECT_EQ(quantize_int8(0.74f, 4.0f), 3);
  EXPECT_EQ(quantize_int8(1000.0f, 1.0f), 127);
  EXPECT_EQ(quantize_int8(-1000.0f, 1.0f), -128);
}

TEST(Int8Quantize, PerChannelWeightsUseTheFullRange) {
  Tensor w = Tensor::from_vector<float>({2, 3}, {0.5f, -1.0f, 0.25f, 4.0f, 2.0f, -3.0f});
  const std::vector<float> scales = per_channel_scales(w, 0);
  const Tensor q = quantize_per_channel(w, scales);
  auto v = q.span<int8_t>();
  EXPECT_EQ(v[1], -127);
  EXPECT_EQ(v[0], 64);   // 0.5 / (1/127) = 63.5 -> 64 (half to even)
  EXPECT_EQ(v[3], 127);
  EXPECT_EQ(v[5], -95);  // -3 / (4/127) = -95.25
}

TEST(Int8Epilogue, AppliesScaleBiasResidualAndRelu) {
  EXPECT_FLOAT_EQ(int8_epilogue(100, 0.5f, 1.0f, 0, 0, false, false), 51.0f);
  EXPECT_FLOAT_EQ(int8_epilogue(-100, 0.5f, 1.0f, 0, 0, false, true), 0.0f);
  EXPECT_FLOAT_EQ(int8_epilogue(10, 0.5f, 0.0f, 0.25f, -8, true, false), 3.0f);
}

TEST(Int8ConvReferenceErrors, ChannelMismatchIsAnError) {
  EXPECT_THROW(int8_conv_accumulate(random_int8({1, 3, 4, 4}, 1), random_int8({2, 4, 1, 1}, 2), ConvGeometry{}), Error);
  EXPECT_THROW(int8_conv_accumulate(Tensor(DType::kF32, {1, 3, 4, 4}), random_int8({2, 3, 1, 1}, 2), ConvGeometry{}),
               Error);
}

}  // namespace
}  // namespace kiln::quant
