#include "passes/fold_batchnorm.h"
#include "graph_builder.h"

namespace kiln {
namespace {

using testing::GraphBuilder;

// x -> Conv -> BatchNormalization -> y, with or without a conv bias.
GraphBuilder conv_bn(bool conv_bias, bool conv_output_also_graph_output = false) {
  GraphBuilder b(conv_bias ? 11 : 12);
  const int x = b.input("x", {2, 3, 7, 7});
  std::vector<int> conv_in = {x, b.weight("w", {5, 3, 3, 3})};
  if (conv_bias) conv_in.push_back(b.weight("b", {5}));
  const int c = b.node("Conv", conv_in, {2, 5, 7, 7}, testing::conv_attrs(), "conv");
  ir::Attributes bn_attrs;
  bn_attrs.set("epsilon", 1e-3f);
  const int y = b.node("BatchNormalization",
                       {c, b.weight("scale", {5}, 0.5f, 2.0f), b.weight("shift", {5}), b.weight("mean", {5}),
                        b.weight("var", {5}, 0.1f, 2.0f)},
                       {2, 5, 7, 7}, bn_attrs, "bn");
  b.output(y);
  if (conv_output_also_graph_output) b.output(c);
  return b;
}

TEST(FoldBatchNorm, FoldsIntoConvWithBiasAndKeepsOutputs) {
  GraphBuilder b = conv_bn(true);
  ir::Graph folded = b.g;
  EXPECT_EQ(passes::fold_batchnorm(folded), 1);
  ASSERT_EQ(folded.nodes.size(), 1u);
  EXPECT_EQ(folded.nodes[0].op, "Conv");
  EXPECT_EQ(folded.nodes[0].outputs[0], b.g.outputs[0]);  // the graph output keeps its value and name
  ASSERT_TRUE(folded.nodes[0].has_input(2));
  EXPECT_NO_THROW(ir::verify(folded));
  testing::expect_same_outputs(b.g, folded, b.random_inputs());
}

TEST(FoldBatchNorm, CreatesABiasForAConvWithout) {
  GraphBuilder b = conv_bn(false);
  ir::Graph folded = b.g;
  EXPECT_EQ(passes::fold_batchnorm(folded), 1);
  ASSERT_EQ(folded.nodes.size(), 1u);
  EXPECT_TRUE(folded.nodes[0].has_input(2));
  testing::expect_same_outputs(b.g, folded, b.random_inputs());
}

TEST(FoldBatchNorm, LeavesSharedWeightsUntouched) {
  GraphBuilder b = conv_bn(true);
  const Tensor original = b.g.value(b.g.find_value("w")).constant->clone();
  ir::Graph folded = b.g;
  passes::fold_batchnorm(folded);
  const Tensor& after = *folded.value(folded.find_value("w")).constant;
  for (int64_t i = 0; i < original.numel(); ++i) ASSERT_EQ(after.data<float>()[i], original.data<float>()[i]);
}

TEST(FoldBatchNorm, SkipsWhenTheConvOutputHasAnotherReader) {
  GraphBuilder b = conv_bn(true, /*conv_output_also_graph_output=*/true);
  ir::Graph g = b.g;
  EXPECT_EQ(passes::fold_batchnorm(g), 0);
  EXPECT_EQ(g.nodes.size(), 2u);
}

TEST(FoldBatchNorm, SkipsRuntimeParameters) {
  GraphBuilder b(3);
  const int x = b.input("x", {1, 2, 4, 4});
  const int mean = b.input("mean", {2});  // not a constant: cannot be folded at build time
  const int c = b.node("Conv", {x, b.weight("w", {2, 2, 1, 1})}, {1, 2, 4, 4}, testing::conv_attrs({0, 0, 0, 0}));
  b.output(b.node("BatchNormalization", {c, b.weight("s", {2}), b.weight("t", {2}), mean, b.weight("v", {2}, 0.5f, 1)},
                  {1, 2, 4, 4}));
  EXPECT_EQ(passes::fold_batchnorm(b.g), 0);
}

}  // namespace
}  // namespace kiln
