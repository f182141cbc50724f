#include "passes/fuse_gemm_epilogue.h"
#include "graph_builder.h"

namespace kiln {
namespace {

using testing::GraphBuilder;

TEST(FuseGemmEpilogue, GemmBiasAddReluAfterFlatten) {
  GraphBuilder b(31);
  const int x = b.input("x", {3, 4, 2, 2});
  ir::Attributes flat;
  flat.set("axis", int64_t{1});
  const int f = b.node("Flatten", {x}, {3, 16}, flat);
  ir::Attributes gemm;
  gemm.set("transB", int64_t{1});
  gemm.set("alpha", 0.5f);
  const int y = b.node("Gemm", {f, b.weight("w", {10, 16})}, {3, 10}, gemm, "fc");
  const int a = b.node("Add", {y, b.weight("bias", {10})}, {3, 10});
  b.output(b.node("Relu", {a}, {3, 10}));
  ir::Graph fused = b.g;
  EXPECT_EQ(passes::fuse_gemm_epilogue(fused), 1);
  ASSERT_EQ(fused.nodes.size(), 2u);
  EXPECT_EQ(fused.nodes[0].op, "Flatten");  // stays
  const ir::Node& n = fused.nodes[1];
  EXPECT_EQ(n.op, "FusedGemm");
  EXPECT_EQ(n.domain, "kiln");
  EXPECT_EQ(n.inputs.size(), 3u);
  EXPECT_EQ(n.attrs.get_int("transB", 0), 1);
  EXPECT_FLOAT_EQ(n.attrs.get_float("alpha", 0), 0.5f);
  EXPECT_EQ(n.attrs.get_string("activation", ""), "relu");
  testing::expect_same_outputs(b.g, fused, b.random_inputs());
}

TEST(FuseGemmEpilogue, ExistingBiasIsMergedWithBeta) {
  GraphBuilder b(32);
  const int x = b.input("x", {2, 6});
  ir::Attributes gemm;
  gemm.set("beta", 0.25f);
  const int y = b.node("Gemm", {x, b.weight("w", {6, 5}), b.weight("c", {1, 5})}, {2, 5}, gemm);
  b.output(b.node("Add", {b.weight("bias", {5}), y}, {2, 5}));
  ir::Graph fused = b.g;
  EXPECT_EQ(passes::fuse_gemm_epilogue(fused), 1);
  ASSERT_EQ(fused.nodes.size(), 1u);
  EXPECT_FLOAT_EQ(fused.nodes[0].attrs.get_float("beta", 0), 1.0f);
  EXPECT_EQ(fused.nodes[0].attrs.get_string("activation", ""), "none");
  testing::expect_same_outputs(b.g, fused, b.random_inputs());
}

TEST(FuseGemmEpilogue, MatMulWithBiasAndSigmoid) {
  GraphBuilder b(33);
  const int x = b.input("x", {4, 7});
  const int y = b.node("MatMul", {x, b.weight("w", {7, 3})}, {4, 3});
  const int a = b.node("Add", {y, b.weight("bias", {1, 3})}, {4, 3});
  b.output(b.node("Sigmoid", {a}, {4, 3}));
  ir::Graph fused = b.g;
  EXPECT_EQ(passes::fuse_gemm_epilogue(fused), 1);
  ASSERT_EQ(fused.nodes.size(), 1u);
  EXPECT_EQ(fused.nodes[0].attrs.get_string("activation", ""), "sigmoid");
  testing::expect_same_outputs(b.g, fused, b.random_inputs());
}

TEST(FuseGemmEpilogue, LeavesBatchedMatMulAndFullShapeAdds) {
  GraphBuilder b(34);
  const int x = b.input("x", {2, 4, 7});
  const int y = b.node("MatMul", {x, b.weight("w", {7, 3})}, {2, 4, 3});
  b.output(b.node("Relu", {y}, {2, 4, 3}));
  const int x2 = b.input("x2", {4, 7});
  const int y2 = b.node("MatMul", {x2, b.weight("w2", {7, 3})}, {4, 3});
  b.output(b.node("Add", {y2, b.weight("full", {4, 3})}, {4, 3}));  // not a row bias
  EXPECT_EQ(passes::fuse_gemm_epilogue(b.g), 0);
}

}  // namespace
}  // namespace kiln
