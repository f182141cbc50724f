#include <limits>

#include "passes/fuse_conv_epilogue.h"
#include "graph_builder.h"

namespace kiln {
namespace {

using testing::GraphBuilder;

const ir::Node& only_fused(const ir::Graph& g) {
  EXPECT_EQ(testing::count_ops(g, "FusedConv"), 1);
  for (const auto& n : g.nodes)
    if (n.op == "FusedConv") return n;
  return g.nodes.at(0);
}

TEST(FuseConvEpilogue, ChannelBiasAddAndReluBecomeOneNode) {
  GraphBuilder b(21);
  const int x = b.input("x", {2, 3, 9, 9});
  const int c = b.node("Conv", {x, b.weight("w", {4, 3, 3, 3}), b.weight("b", {4})}, {2, 4, 5, 5},
                       testing::conv_attrs({1, 1, 1, 1}, {2, 2}), "conv");
  const int a = b.node("Add", {b.weight("bias", {1, 4, 1, 1}), c}, {2, 4, 5, 5});  // bias on the left
  b.output(b.node("Relu", {a}, {2, 4, 5, 5}));
  ir::Graph fused = b.g;
  EXPECT_EQ(passes::fuse_conv_epilogue(fused), 1);
  ASSERT_EQ(fused.nodes.size(), 1u);
  const ir::Node& n = only_fused(fused);
  EXPECT_EQ(n.domain, "kiln");
  EXPECT_EQ(n.attrs.get_string("activation", ""), "relu");
  EXPECT_EQ(n.attrs.get_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(n.attrs.get_ints("strides"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(n.attrs.get_ints("kernel_shape"), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(n.inputs.size(), 3u);  // X, W, merged B; no residual
  testing::expect_same_outputs(b.g, fused, b.random_inputs());
}

// A ResNet basic block with a projection shortcut: the residual Add joins the main
// path's last conv (whose input is ready after the shortcut conv), then Relu.
TEST(FuseConvEpilogue, ResidualBlockFusesAddIntoTheLaterConv) {
  GraphBuilder b(22);
  const int x = b.input("x", {1, 4, 6, 6});
  const int shortcut = b.node("Conv", {x, b.weight("wd", {8, 4, 1, 1})}, {1, 8, 6, 6}, testing::conv_attrs({0, 0, 0, 0}),
                              "downsample");
  const int c1 = b.node("Conv", {x, b.weight("w1", {8, 4, 3, 3}), b.weight("b1", {8})}, {1, 8, 6, 6},
                        testing::conv_attrs(), "conv1");
  const int r1 = b.node("Relu", {c1}, {1, 8, 6, 6});
  const int c2 = b.node("Conv", {r1, b.weight("w2", {8, 8, 3, 3})}, {1, 8, 6, 6}, testing::conv_attrs(), "conv2");
  const int sum = b.node("Add", {c2, shortcut}, {1, 8, 6, 6});
  b.output(b.node("Relu", {sum}, {1, 8, 6, 6}));
  ir::Graph fused = b.g;
  EXPECT_EQ(passes::fuse_conv_epilogue(fused), 2);  // conv1+relu, conv2+add+relu
  EXPECT_EQ(testing::count_ops(fused, "Add"), 0);
  EXPECT_EQ(testing::count_ops(fused, "Relu"), 0);
  EXPECT_EQ(testing::count_ops(fused, "Conv"), 1);  // the shortcut conv has nothing to fuse
  bool residual_seen = false;
  for (const auto& n : fused.nodes)
    if (n.op == "FusedConv" && n.inputs.size() == 4) {
      residual_seen = true;
      EXPECT_EQ(n.name, "conv2");
      EXPECT_EQ(n.inputs[2], ir::kNoValue);  // no bias, but a residual
      EXPECT_EQ(n.inputs[3], shortcut);
    }
  EXPECT_TRUE(residual_seen);
  EXPECT_NO_THROW(ir::verify(fused));
  testing::expect_same_outputs(b.g, fused, b.random_inputs());
}

struct ActivationCase {
  std::string op;
  std::string kind;
  float alpha, beta;
};

class FuseConvActivation : public ::testing::TestWithParam<ActivationCase> {};

TEST_P(FuseConvActivation, MatchesTheUnfusedGraph) {
  const ActivationCase& p = GetParam();
  GraphBuilder b(23);
  const int x = b.input("x", {1, 3, 8, 8});
  const int c = b.node("Conv", {x, b.weight("w", {6, 3, 3, 3}, -2, 2), b.weight("b", {6})}, {1, 6, 8, 8},
                       testing::conv_attrs());
  ir::Attributes attrs;
  std::vector<int> inputs = {c};
  if (p.op == "LeakyRelu") attrs.set("alpha", p.alpha);
  if (p.op == "HardSigmoid") {
    attrs.set("alpha", p.alpha);
    attrs.set("beta", p.beta);
  }
  if (p.op == "Clip") {
    inputs.push_back(b.constant("lo", Tensor::scalar<float>(p.alpha)));
    inputs.push_back(b.constant("hi", Tensor::scalar<float>(p.beta)));
  }
  b.output(b.node(p.op, inputs, {1, 6, 8, 8}, attrs));
  ir::Graph fused = b.g;
  ASSERT_EQ(passes::fuse_conv_epilogue(fused), 1);
  const ir::Node& n = only_fused(fused);
  EXPECT_EQ(n.attrs.get_string("activation", ""), p.kind);
  if (p.kind == "leaky_relu" || p.kind == "hard_sigmoid" || p.kind == "clip") {
    EXPECT_FLOAT_EQ(n.attrs.get_float("act_alpha", -99), p.alpha);
  }
  if (p.kind == "hard_sigmoid" || p.kind == "clip") {
    EXPECT_FLOAT_EQ(n.attrs.get_float("act_beta", -99), p.beta);
  }
  testing::expect_same_outputs(b.g, fused, b.random_inputs());
}

INSTANTIATE_TEST_SUITE_P(All, FuseConvActivation,
                         ::testing::Values(ActivationCase{"Relu", "relu", 0, 0},
                                           ActivationCase{"Clip", "clip", 0.0f, 6.0f},
                                           ActivationCase{"LeakyRelu", "leaky_relu", 0.2f, 0},
                                           ActivationCase{"Sigmoid", "sigmoid", 0, 0},
                                           ActivationCase{"HardSigmoid", "hard_sigmoid", 0.3f, 0.4f},
                                           ActivationCase{"HardSwish", "hard_swish", 0, 0}),
                         [](const auto& info) { return info.param.op; });

TEST(FuseConvEpilogue, ResolvesSameUpperPadding) {
  GraphBuilder b(24);
  const int x = b.input("x", {1, 2, 8, 8});
  ir::Attributes attrs;
  attrs.set("auto_pad", std::string("SAME_UPPER"));
  attrs.set("strides", std::vector<int64_t>{2, 2});
  const int c = b.node("Conv", {x, b.weight("w", {3, 2, 4, 4})}, {1, 3, 4, 4}, attrs);
  b.output(b.node("Relu", {c}, {1, 3, 4, 4}));
  ir::Graph fused = b.g;
  ASSERT_EQ(passes::fuse_conv_epilogue(fused), 1);
  // out = 4, total pad = (4-1)*2 + 4 - 8 = 2 -> 1 before, 1 after
  EXPECT_EQ(only_fused(fused).attrs.get_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_FALSE(only_fused(fused).attrs.has("auto_pad"));
  testing::expect_same_outputs(b.g, fused, b.random_inputs());
}

TEST(FuseConvEpilogue, DepthwiseConvKeepsItsGroups) {
  GraphBuilder b(25);
  const int x = b.input("x", {1, 4, 5, 5});
  const int c = b.node("Conv", {x, b.weight("w", {4, 1, 3, 3}), b.weight("b", {4})}, {1, 4, 5, 5},
                       testing::conv_attrs({1, 1, 1, 1}, {1, 1}, 4));
  const int lo = b.constant("lo", Tensor::scalar<float>(0.0f));
  const int hi = b.constant("hi", Tensor::scalar<float>(0.5f));
  b.output(b.node("Clip", {c, lo, hi}, {1, 4, 5, 5}));
  ir::Graph fused = b.g;
  ASSERT_EQ(passes::fuse_conv_epilogue(fused), 1);
  EXPECT_EQ(only_fused(fused).attrs.get_int("group", 0), 4);
  testing::expect_same_outputs(b.g, fused, b.random_inputs());
}

TEST(FuseConvEpilogue, LeavesIntermediatesWithOtherReaders) {
  GraphBuilder b(26);
  const int x = b.input("x", {1, 2, 4, 4});
  const int c = b.node("Conv", {x, b.weight("w", {2, 2, 1, 1})}, {1, 2, 4, 4}, testing::conv_attrs({0, 0, 0, 0}));
  b.output(b.node("Relu", {c}, {1, 2, 4, 4}));
  b.output(c);  // the raw conv output is needed too
  ir::Graph g = b.g;
  EXPECT_EQ(passes::fuse_conv_epilogue(g), 0);
  EXPECT_EQ(g.nodes.size(), 2u);
}

TEST(FuseConvEpilogue, LeavesClipWithRuntimeBounds) {
  GraphBuilder b(27);
  const int x = b.input("x", {1, 2, 4, 4});
  const int hi = b.input("hi", {});
  const int c = b.node("Conv", {x, b.weight("w", {2, 2, 1, 1})}, {1, 2, 4, 4}, testing::conv_attrs({0, 0, 0, 0}));
  b.output(b.node("Clip", {c, ir::kNoValue, hi}, {1, 2, 4, 4}));
  EXPECT_EQ(passes::fuse_conv_epilogue(b.g), 0);
}

TEST(FuseConvEpilogue, LeavesAddOfADifferentShape) {
  GraphBuilder b(28);
  const int x = b.input("x", {1, 2, 4, 4});
  const int c = b.node("Conv", {x, b.weight("w", {2, 2, 1, 1})}, {1, 2, 4, 4}, testing::conv_attrs({0, 0, 0, 0}));
  // A per-column constant is not a per-channel bias.
  b.output(b.node("Add", {c, b.weight("cols", {4})}, {1, 2, 4, 4}));
  EXPECT_EQ(passes::fuse_conv_epilogue(b.g), 0);
}

}  // namespace
}  // namespace kiln
