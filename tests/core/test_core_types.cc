#include <gtest/gtest.h>

#include <random>

#include "core/dtype.h"
#include "core/shape.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace kiln {
namespace {

TEST(DType, HalfRoundTripIsExactForRepresentableValues) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f}) {
    EXPECT_EQ(half_to_float(float_to_half(f)), f) << f;
  }
}

TEST(DType, HalfRoundsToNearestWithinHalfUlp) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1000.0f, 1000.0f);
  for (int i = 0; i < 10000; ++i) {
    const float f = dist(rng);
    const float back = half_to_float(float_to_half(f));
    EXPECT_LE(std::abs(back - f), std::abs(f) * (1.0f / 2048.0f) + 1e-7f) << f;
  }
}

TEST(DType, HalfOverflowSaturatesToInfinity) {
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(70000.0f))));
}

TEST(DType, Bfloat16KeepsExponentRange) {
  EXPECT_NEAR(bfloat16_to_float(float_to_bfloat16(1e30f)) / 1e30f, 1.0f, 1.0f / 256);
  EXPECT_EQ(float_to_bfloat16(1.0f + 1.0f / 256), 0x3f80);  // ties round to even
  EXPECT_EQ(bfloat16_to_float(float_to_bfloat16(1.0f)), 1.0f);
}

TEST(Shape, BroadcastFollowsNumpyRules) {
  EXPECT_EQ(broadcast_dims({8, 1, 6, 1}, {7, 1, 5}), (Dims{8, 7, 6, 5}));
  EXPECT_THROW(broadcast_dims({3}, {4}), Error);
}

TEST(Tensor, CastSaturatesNarrowIntegers) {
  Tensor t = Tensor::from_vector<float>({3}, {300.0f, -300.0f, 1.4f});
  Tensor i8 = t.cast(DType::kI8);
  EXPECT_EQ(i8.data<int8_t>()[0], 127);
  EXPECT_EQ(i8.data<int8_t>()[1], -128);
  EXPECT_EQ(i8.data<int8_t>()[2], 1);
}

TEST(Graph, VerifyRejectsUseBeforeDefinition) {
  ir::Graph g;
  int x = g.add_value("x", DType::kF32, {1});
  int y = g.add_value("y");
  int z = g.add_value("z");
  g.inputs = {x};
  g.add_node({"b", "Relu", "", {y}, {z}, {}});
  g.add_node({"a", "Relu", "", {x}, {y}, {}});
  g.outputs = {z};
  EXPECT_THROW(ir::verify(g), Error);
  g.topological_sort();
  EXPECT_NO_THROW(ir::verify(g));
  EXPECT_EQ(g.nodes[0].name, "a");
}

TEST(Graph, RemoveDeadNodesKeepsOnlyWhatOutputsNeed) {
  ir::Graph g;
  int x = g.add_value("x", DType::kF32, {1});
  int y = g.add_value("y");
  int dead = g.add_value("dead");
  g.inputs = {x};
  g.add_node({"live", "Relu", "", {x}, {y}, {}});
  g.add_node({"unused", "Relu", "", {x}, {dead}, {}});
  g.outputs = {y};
  g.remove_dead_nodes();
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].name, "live");
}

}  // namespace
}  // namespace kiln
