// quant/space_to_depth.h: the stride-1 convolution of the space-to-depth image with the
// rewritten filter equals the original stride-2 convolution (float, CPU backend), and only
// the convolutions it is exact for are rewritten.
#include <gtest/gtest.h>

#include <cmath>

#include "../cpu/cpu_test_support.h"
#include "backends/cpu/cpu_backend.h"
#include "ir/shape_inference.h"
#include "quant/space_to_depth.h"

namespace kiln::quant {
namespace {

using cpu::testing::random_tensor;

struct StemCase {
  const char* name;
  int64_t c, h, w, k, r, s, pad_h, pad_w;
};

// x [2, c, h, w] -> Conv (k filters r x s, given strides / dilations, pads symmetric) -> y
ir::Graph conv_graph(const StemCase& c, const Tensor& weights, std::vector<int64_t> strides,
                     std::vector<int64_t> dilations = {1, 1}) {
  ir::Graph g;
  const int x = g.add_value("x", DType::kF32, {2, c.c, c.h, c.w});
  g.inputs = {x};
  const int w = g.add_constant("w", weights);
  const int y = g.add_value("y");
  ir::Node conv{"conv", "Conv", "", {x, w}, {y}, {}};
  conv.attrs.set("pads", std::vector<int64_t>{c.pad_h, c.pad_w, c.pad_h, c.pad_w});
  conv.attrs.set("strides", std::move(strides));
  conv.attrs.set("dilations", std::move(dilations));
  g.add_node(std::move(conv));
  g.outputs = {y};
  ir::infer_shapes(g);
  return g;
}

// The space-to-depth image as space_to_depth.h defines it, element by element.
Tensor space_to_depth_image(const Tensor& x, const SpaceToDepthStem& stem) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Tensor out(DType::kF32, {n, kSpaceToDepthChannels, stem.hs, stem.ws});
  for (float& v : out.span<float>()) v = 0.0f;
  for (int64_t in = 0; in < n; ++in)
    for (int64_t i = 0; i < stem.hs; ++i)
      for (int64_t j = 0; j < stem.ws; ++j)
        for (int64_t a = 0; a < 2; ++a)
          for (int64_t b = 0; b < 2; ++b)
            for (int64_t ic = 0; ic < c; ++ic) {
              const int64_t row = 2 * i + a - stem.pad_top, col = 2 * j + b - stem.pad_left;
              if (row < 0 || row >= h || col < 0 || col >= w) continue;
              const int64_t ch = (2 * a + b) * c + ic;
              out.data<float>()[((in * kSpaceToDepthChannels + ch) * stem.hs + i) * stem.ws + j] =
                  x.data<float>()[((in * c + ic) * h + row) * w + col];
            }
  return out;
}

class SpaceToDepth : public ::testing::TestWithParam<StemCase> {};

TEST_P(SpaceToDepth, RewrittenConvolutionEqualsTheOriginal) {
  const StemCase c = GetParam();
  const Tensor weights = random_tensor({c.k, c.c, c.r, c.s}, 11);
  const ir::Graph original = conv_graph(c, weights, {2, 2});
  const auto stem = space_to_depth_stem(original, original.nodes[0]);
  ASSERT_TRUE(stem.has_value()) << c.name;
  EXPECT_EQ(stem->r, (c.r + 1) / 2);
  EXPECT_EQ(stem->s, (c.s + 1) / 2);

  const Tensor x = random_tensor({2, c.c, c.h, c.w}, 12);
  const Tensor want = cpu::run_graph(original, {x})[0];
  const Tensor filter = space_to_depth_filter(weights);
  ASSERT_EQ(filter.dims(), (Dims{c.k, kSpaceToDepthChannels, stem->r, stem->s}));
  const StemCase rewritten_case{c.name, kSpaceToDepthChannels, stem->hs, stem->ws, c.k, stem->r, stem->s, 0, 0};
  const ir::Graph rewritten = conv_graph(rewritten_case, filter, {1, 1});
  const Tensor got = cpu::run_graph(rewritten, {space_to_depth_image(x, *stem)})[0];
  ASSERT_EQ(got.dims(), want.dims()) << c.name;
  double max_diff = 0, max_ref = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    max_diff = std::max(max_diff, double(std::fabs(got.data<float>()[i] - want.data<float>()[i])));
    max_ref = std::max(max_ref, double(std::fabs(want.data<float>()[i])));
  }
  EXPECT_GT(max_ref, 1.0) << c.name;
  EXPECT_LE(max_diff, 1e-4 * max_ref) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Stems, SpaceToDepth,
                         ::testing::Values(StemCase{"resnet_7x7_odd", 3, 23, 23, 8, 7, 7, 3, 3},
                                           StemCase{"even_3x3_rect", 4, 16, 12, 5, 3, 3, 1, 1},
                                           StemCase{"5x2_kernel_unequal_pads", 2, 11, 9, 3, 5, 2, 2, 0},
                                           StemCase{"one_channel_4x4_no_pad", 1, 10, 10, 4, 4, 4, 0, 0}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SpaceToDepth, OnlyThinStride2ConvolutionsAreRewritten) {
  const StemCase thin{"thin", 3, 12, 12, 4, 3, 3, 1, 1};
  const Tensor w3 = random_tensor({4, 3, 3, 3}, 13);
  EXPECT_TRUE(space_to_depth_stem(conv_graph(thin, w3, {2, 2}), conv_graph(thin, w3, {2, 2}).nodes[0]));
  const ir::Graph stride1 = conv_graph(thin, w3, {1, 1});
  EXPECT_FALSE(space_to_depth_stem(stride1, stride1.nodes[0]));
  const ir::Graph stride21 = conv_graph(thin, w3, {2, 1});
  EXPECT_FALSE(space_to_depth_stem(stride21, stride21.nodes[0]));
  const ir::Graph dilated = conv_graph(thin, w3, {2, 2}, {2, 2});
  EXPECT_FALSE(space_to_depth_stem(dilated, dilated.nodes[0]));
  // Five channels make 20 > 16 after the rewrite.
  const StemCase wide{"wide", 5, 12, 12, 4, 3, 3, 1, 1};
  const ir::Graph five = conv_graph(wide, random_tensor({4, 5, 3, 3}, 14), {2, 2});
  EXPECT_FALSE(space_to_depth_stem(five, five.nodes[0]));
}

}  // namespace
}  // namespace kiln::quant
