#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "../passes/graph_builder.h"
#include "backends/cpu/cpu_backend.h"
#include "passes/pipeline.h"
#include "plan_test_files.h"
#include "runtime/plan_format.h"

namespace kiln {
namespace {

Plan optimized_plan() {
  Plan plan;
  plan.graph = testing::mini_resnet();
  passes::optimize_for_inference(plan.graph, Precision::kFP32);
  plan.backend = "cpu";
  plan.precision = Precision::kFP32;
  plan.max_batch_size = 8;
  plan.backend_data = {{"tactics", {{"stem", 3}, {"c1", 1}}}};
  return plan;
}

TEST(PlanRoundTrip, SameOutputsAfterSaveAndLoad) {
  testing::TempDir dir;
  const Plan plan = optimized_plan();
  save_plan(plan, dir.file("model.plan"));
  const Plan loaded = load_plan(dir.file("model.plan"));
  EXPECT_EQ(loaded.backend, "cpu");
  EXPECT_EQ(loaded.precision, Precision::kFP32);
  EXPECT_EQ(loaded.max_batch_size, 8);
  EXPECT_EQ(loaded.backend_data, plan.backend_data);
  EXPECT_EQ(loaded.kiln_version, kKilnVersion);
  EXPECT_FALSE(loaded.created.empty());
  EXPECT_EQ(ir::dump(loaded.graph), ir::dump(plan.graph));

  std::mt19937 rng(5);
  const std::vector<Tensor> inputs = {testing::random_tensor({3, 3, 16, 16}, rng)};
  const std::vector<Tensor> expected = cpu::run_graph(plan.graph, inputs);
  const std::vector<Tensor> actual = cpu::run_graph(loaded.graph, inputs);
  ASSERT_EQ(actual.size(), 1u);
  ASSERT_EQ(actual[0].dims(), expected[0].dims());
  EXPECT_EQ(std::memcmp(actual[0].raw(), expected[0].raw(), expected[0].nbytes()), 0);  // same weights, bit for bit
}

TEST(PlanRoundTrip, ConstantsAreAlignedViewsOfTheMapping) {
  testing::TempDir dir;
  save_plan(optimized_plan(), dir.file("model.plan"));
  const Plan loaded = load_plan(dir.file("model.plan"));
  int constants = 0;
  for (const auto& v : loaded.graph.values) {
    if (!v.constant) continue;
    ++constants;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.constant->raw()) % kPlanBlobAlignment, 0u) << v.name;
  }
  EXPECT_GT(constants, 5);
}

TEST(PlanRoundTrip, EveryAttributeKindSurvives) {
  ir::Graph g;
  g.name = "attrs";
  const int x = g.add_value("x", DType::kF32, {kDynamic, 4});
  const int y = g.add_value("y", DType::kF32, {kDynamic, 4});
  g.add_value("unknown");  // a value whose shape was never inferred
  g.add_constant("i8", Tensor::from_vector<int8_t>({3}, {-1, 2, 127}));
  g.add_constant("empty", Tensor(DType::kF32, {0, 4}));
  g.inputs = {x};
  g.outputs = {y};
  g.metadata = {{"producer", "test"}, {"kiln.preprocess", "{\"mean\": [1, 2]}"}};
  ir::Attributes a;
  a.set("i", int64_t{-7});
  a.set("f", 0.1f);
  a.set("nan", std::numeric_limits<float>::quiet_NaN());
  a.set("inf", -std::numeric_limits<float>::infinity());
  a.set("s", std::string("quote\" and \xc3\xa9"));
  a.set("ints", std::vector<int64_t>{1, -2, INT64_MAX});
  a.set("floats", std::vector<float>{1.5f, std::numeric_limits<float>::infinity(), -0.0f});
  a.set("strings", std::vector<std::string>{"a", ""});
  a.set("tensor", Tensor::from_vector<int64_t>({2, 2}, {1, 2, 3, 4}));
  g.add_node({"n", "Identity", "", {x}, {y}, a});
  Plan plan;
  plan.graph = g;
  plan.backend = "cuda";
  plan.precision = Precision::kFP16;
  plan.device = {{"name", "NVIDIA H100"}, {"compute_capability", "9.0"}};

  testing::TempDir dir;
  save_plan(plan, dir.file("a.plan"));
  const Plan back = load_plan(dir.file("a.plan"));
  EXPECT_EQ(back.device, plan.device);
  EXPECT_EQ(back.precision, Precision::kFP16);
  EXPECT_EQ(back.graph.metadata, g.metadata);
  EXPECT_FALSE(back.graph.value(2).shape_known);
  EXPECT_EQ(back.graph.value(0).dims, (Dims{kDynamic, 4}));
  EXPECT_EQ(back.graph.value(3).constant->to_int64s(), (std::vector<int64_t>{-1, 2, 127}));
  EXPECT_EQ(back.graph.value(4).constant->numel(), 0);
  const ir::Attributes& b = back.graph.nodes[0].attrs;
  EXPECT_EQ(b.get_int("i", 0), -7);
  EXPECT_EQ(b.get_float("f", 0), 0.1f);
  EXPECT_TRUE(std::isnan(b.get_float("nan", 0)));
  EXPECT_EQ(b.get_float("inf", 0), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(b.get_string("s", ""), "quote\" and \xc3\xa9");
  EXPECT_EQ(b.get_ints("ints"), (std::vector<int64_t>{1, -2, INT64_MAX}));
  const auto floats = b.get_floats("floats");
  ASSERT_EQ(floats.size(), 3u);
  EXPECT_EQ(floats[1], std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(floats[2]));
  EXPECT_EQ(b.get_strings("strings"), (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(b.get_tensor("tensor").to_int64s(), (std::vector<int64_t>{1, 2, 3, 4}));
}

TEST(PlanRoundTrip, ParseBytesCopiesTheInput) {
  testing::TempDir dir;
  save_plan(optimized_plan(), dir.file("model.plan"));
  std::string bytes = testing::read_bytes(dir.file("model.plan"));
  Plan plan = parse_plan_bytes(bytes.data(), bytes.size(), "memory");
  const std::string dump = ir::dump(plan.graph);
  std::fill(bytes.begin(), bytes.end(), '\0');  // the plan must not point into the caller's buffer
  std::mt19937 rng(6);
  const auto out = cpu::run_graph(plan.graph, {testing::random_tensor({1, 3, 16, 16}, rng)});
  EXPECT_EQ(out[0].dims(), (Dims{1, 10}));
  EXPECT_EQ(ir::dump(plan.graph), dump);
}

// ResNet-50 has about 25.6 M parameters (~100 MB of f32): its plan must load in < 1 s.
TEST(PlanRoundTrip, ResNet50SizedPlanLoadsInUnderASecond) {
  ir::Graph g;
  g.name = "big";
  const int x = g.add_value("x", DType::kF32, {1});
  g.inputs = {x};
  std::mt19937 rng(9);
  int prev = x;
  for (int i = 0; i < 160; ++i) {
    Tensor w(DType::kF32, {160, 1000});  // 160 x 160k floats = 25.6 M parameters
    for (float& v : w.span<float>()) v = static_cast<float>(rng() & 0xffff);
    g.add_constant("w" + std::to_string(i), std::move(w));
    const int y = g.add_value("y" + std::to_string(i), DType::kF32, {1});
    g.add_node({"n" + std::to_string(i), "Identity", "", {prev}, {y}, {}});
    prev = y;
  }
  g.outputs = {prev};
  Plan plan;
  plan.graph = std::move(g);
  plan.backend = "cpu";
  testing::TempDir dir;
  save_plan(plan, dir.file("big.plan"));
  const auto start = std::chrono::steady_clock::now();
  const Plan loaded = load_plan(dir.file("big.plan"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 1.0);
  std::printf("loaded a %d-constant, 102 MB plan in %.3f s\n", 160, seconds);
  EXPECT_EQ(loaded.graph.value(1).constant->data<float>()[12345], plan.graph.value(1).constant->data<float>()[12345]);
}

TEST(PlanRoundTrip, SaveReplacesAnExistingFileAtomically) {
  testing::TempDir dir;
  testing::write_bytes(dir.file("model.plan"), "old contents");
  save_plan(optimized_plan(), dir.file("model.plan"));
  EXPECT_NO_THROW(load_plan(dir.file("model.plan")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("model.plan.tmp")));
}

}  // namespace
}  // namespace kiln
