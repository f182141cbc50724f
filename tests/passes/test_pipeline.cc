#include "passes/pipeline.h"
#include "graph_builder.h"

namespace kiln {
namespace {

std::vector<Tensor> inputs_for(const ir::Graph& g, int64_t batch, uint32_t seed) {
  std::mt19937 rng(seed);
  Dims dims = g.value(g.inputs[0]).dims;
  dims[0] = batch;
  return {testing::random_tensor(dims, rng)};
}

TEST(Pipeline, Fp32FoldsAndFusesAResNetBlock) {
  const ir::Graph original = testing::mini_resnet();
  ir::Graph g = original;
  const passes::OptimizeReport report = passes::optimize_for_inference(g, Precision::kFP32);
  EXPECT_EQ(report.nodes_before, original.nodes.size());
  EXPECT_EQ(report.nodes_after, g.nodes.size());
  EXPECT_EQ(testing::count_ops(g, "BatchNormalization"), 0);
  EXPECT_EQ(testing::count_ops(g, "Dropout"), 0);
  EXPECT_EQ(testing::count_ops(g, "Relu"), 0);
  EXPECT_EQ(testing::count_ops(g, "Add"), 0);
  EXPECT_EQ(testing::count_ops(g, "FusedConv"), 3);
  EXPECT_EQ(testing::count_ops(g, "Flatten"), 1);
  // stem, pool, c1, c2(+residual), gap, flatten, fc, softmax
  EXPECT_EQ(g.nodes.size(), 8u);
  for (int64_t batch : {1, 3}) testing::expect_same_outputs(original, g, inputs_for(original, batch, 7));
}

TEST(Pipeline, NativeKeepsTheGraphAsImported) {
  const ir::Graph original = testing::mini_resnet();
  ir::Graph g = original;
  passes::optimize_for_inference(g, Precision::kNative);
  EXPECT_EQ(g.nodes.size(), original.nodes.size());
  EXPECT_EQ(testing::count_ops(g, "FusedConv"), 0);
  testing::expect_same_outputs(original, g, inputs_for(original, 2, 8));
}

TEST(Pipeline, SecondRunChangesNothing) {
  ir::Graph g = testing::mini_resnet();
  passes::optimize_for_inference(g, Precision::kFP32);
  const size_t nodes = g.nodes.size();
  const passes::OptimizeReport again = passes::optimize_for_inference(g, Precision::kFP32);
  EXPECT_EQ(g.nodes.size(), nodes);
  for (const auto& [pass, count] : again.rewrites) EXPECT_EQ(count, 0) << pass;
}

}  // namespace
}  // namespace kiln
