#include <gtest/gtest.h>

#include "ir/flops.h"
#include "ir/shape_inference.h"

namespace kiln::ir {
namespace {

Tensor weights(Dims dims) {
  Tensor t(DType::kF32, dims);
  for (float& x : t.span<float>()) x = 0.5f;
  return t;
}

// x[1,3,8,8] -Conv(4x3x3x3)-> [1,4,6,6] -Reshape-> [1,144] -Gemm(B[10,144], transB)-> [1,10]
// plus an unrelated MatMul [2,5,7] x [7,3] -> [2,5,3].
Graph small_net(int64_t batch) {
  Graph g;
  const int x = g.add_value("x", DType::kF32, {batch, 3, 8, 8});
  g.inputs.push_back(x);
  const int w = g.add_constant("w", weights({4, 3, 3, 3}));
  const int b = g.add_constant("b", weights({4}));
  const int y = g.add_value("y", DType::kF32, {batch, 4, 6, 6});
  Node conv{"conv1", "Conv", "", {x, w, b}, {y}, {}};
  conv.attrs.set("kernel_shape", std::vector<int64_t>{3, 3});
  g.add_node(conv);
  const int shape = g.add_constant("shape", Tensor::from_vector<int64_t>({2}, {batch, 144}));
  const int flat = g.add_value("flat", DType::kF32, {batch, 144});
  g.add_node(Node{"flatten", "Reshape", "", {y, shape}, {flat}, {}});
  const int fc_w = g.add_constant("fc_w", weights({10, 144}));
  const int logits = g.add_value("logits", DType::kF32, {batch, 10});
  Node fc{"fc", "Gemm", "", {flat, fc_w}, {logits}, {}};
  fc.attrs.set("transB", int64_t{1});
  g.add_node(fc);
  const int a = g.add_value("a", DType::kF32, {2, 5, 7});
  g.inputs.push_back(a);
  const int mb = g.add_constant("mb", weights({7, 3}));
  const int mm = g.add_value("mm", DType::kF32, {2, 5, 3});
  g.add_node(Node{"mm", "MatMul", "", {a, mb}, {mm}, {}});
  g.outputs = {logits, mm};
  return g;
}

TEST(Flops, CountsTwiceTheMultiplyAddsOfConvGemmMatMul) {
  const FlopCount c = count_flops(small_net(1));
  // Conv: 1*4*6*6 outputs x 3*3*3 taps; Gemm: 10 outputs x 144; MatMul: 2*5*3 outputs x 7.
  EXPECT_EQ(c.by_op.at("Conv"), 2 * 144 * 27);
  EXPECT_EQ(c.by_op.at("Gemm"), 2 * 10 * 144);
  EXPECT_EQ(c.by_op.at("MatMul"), 2 * 30 * 7);
  EXPECT_EQ(c.by_op.count("Reshape"), 0u);
  EXPECT_EQ(c.total, 2 * (144 * 27 + 1440 + 210));
  EXPECT_EQ(c.uncounted_nodes, 0);
}

TEST(Flops, GroupedConvAndTransposedGemm) {
  Graph g;
  const int x = g.add_value("x", DType::kF32, {1, 8, 10, 10});
  g.inputs.push_back(x);
  // Depthwise-ish: group 4, W [8, 2, 3, 3], stride 2, pad 1 -> [1,8,5,5].
  const int w = g.add_constant("w", weights({8, 2, 3, 3}));
  const int y = g.add_value("y", DType::kF32, {1, 8, 5, 5});
  Node conv{"dw", "FusedConv", "kiln", {x, w}, {y}, {}};
  conv.attrs.set("group", int64_t{4});
  g.add_node(conv);
  // Gemm with transA: A [6, 4] -> A' [4, 6]; B [6, 9] -> Y [4, 9]; K = 6.
  const int a = g.add_value("a", DType::kF32, {6, 4});
  g.inputs.push_back(a);
  const int bm = g.add_constant("bm", weights({6, 9}));
  const int gy = g.add_value("gy", DType::kF32, {4, 9});
  Node gemm{"g", "Gemm", "", {a, bm}, {gy}, {}};
  gemm.attrs.set("transA", int64_t{1});
  g.add_node(gemm);
  g.outputs = {y, gy};
  const FlopCount c = count_flops(g);
  EXPECT_EQ(c.by_op.at("kiln.FusedConv"), 2 * (8 * 25) * (2 * 9));
  EXPECT_EQ(c.by_op.at("Gemm"), 2 * 36 * 6);
}

TEST(Flops, DynamicShapesAreReportedAsUncounted) {
  Graph g = small_net(kDynamic);
  const FlopCount c = count_flops(g);
  EXPECT_EQ(c.uncounted_nodes, 2);  // Conv and Gemm have a dynamic batch
  EXPECT_EQ(c.by_op.at("MatMul"), 2 * 30 * 7);
}

TEST(Flops, PerImageFixesADynamicBatchToOne) {
  for (const char* op : {"Conv", "Reshape", "Gemm", "MatMul"})
    if (!shape_functions().count(op)) GTEST_SKIP() << "no shape function for " << op << " in this build yet";
  Graph g = small_net(kDynamic);
  // Reshape's shape input must not pin the batch: use 0 ("copy the input dim").
  g.value(g.find_value("shape")).constant = Tensor::from_vector<int64_t>({2}, {0, 144});
  const FlopCount c = count_flops_per_image(g);
  EXPECT_EQ(c.total, count_flops(small_net(1)).total);
  EXPECT_EQ(c.uncounted_nodes, 0);
  EXPECT_EQ(g.value(g.inputs[0]).dims[0], kDynamic) << "the graph itself must not change";
}

TEST(Flops, ParametersAreWeightTensorsOnly) {
  // Conv w (108) + b (4) + fc_w (1440) + mb (21); the int64 Reshape shape is not a parameter.
  EXPECT_EQ(count_parameters(small_net(1)), 108 + 4 + 1440 + 21);
}

}  // namespace
}  // namespace kiln::ir
