#include "passes/eliminate_dead_nodes.h"
#include "passes/eliminate_identity.h"
#include "graph_builder.h"

namespace kiln {
namespace {

using testing::GraphBuilder;

TEST(EliminateIdentity, RemovesIdentityAndDropoutKeepingOutputNames) {
  GraphBuilder b(41);
  const int x = b.input("x", {2, 5});
  const int r = b.node("Relu", {x}, {2, 5});
  const int i = b.node("Identity", {r}, {2, 5});
  const int s = b.node("Sigmoid", {i}, {2, 5});
  const int d = b.node("Dropout", {s}, {2, 5}, {}, "dropout");
  b.output(d);
  ir::Graph g = b.g;
  EXPECT_EQ(passes::eliminate_identity(g), 2);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[1].op, "Sigmoid");
  EXPECT_EQ(g.nodes[1].outputs[0], d);  // the graph output is still "dropout_out"
  EXPECT_EQ(g.value(g.outputs[0]).name, "dropout_out");
  EXPECT_NO_THROW(ir::verify(g));
  testing::expect_same_outputs(b.g, g, b.random_inputs());
}

TEST(EliminateIdentity, KeepsDropoutWhoseMaskIsRead) {
  GraphBuilder b(42);
  const int x = b.input("x", {3});
  const int out = b.g.add_value("y", DType::kF32, {3});
  const int mask = b.g.add_value("mask", DType::kBool, {3});
  b.g.add_node({"drop", "Dropout", "", {x}, {out, mask}, {}});
  b.output(out);
  b.output(mask);
  EXPECT_EQ(passes::eliminate_identity(b.g), 0);
}

TEST(EliminateIdentity, KeepsIdentityFromAGraphInputToAGraphOutput) {
  GraphBuilder b(43);
  const int x = b.input("x", {3});
  b.output(b.node("Identity", {x}, {3}));
  EXPECT_EQ(passes::eliminate_identity(b.g), 0);
  EXPECT_EQ(b.g.nodes.size(), 1u);
}

TEST(EliminateDeadNodes, DropsUnusedBranchesAndTheirWeights) {
  GraphBuilder b(44);
  const int x = b.input("x", {2, 3});
  const int w = b.weight("unused_w", {3, 3});
  b.node("MatMul", {x, w}, {2, 3});  // nobody reads it
  b.output(b.node("Relu", {x}, {2, 3}));
  EXPECT_EQ(passes::eliminate_dead_nodes(b.g), 1);
  EXPECT_EQ(b.g.nodes.size(), 1u);
  EXPECT_FALSE(b.g.value(w).is_constant());
}

}  // namespace
}  // namespace kiln
