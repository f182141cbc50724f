#include <cstring>

#include "../passes/graph_builder.h"
#include "backends/cpu/cpu_backend.h"
#include "passes/pipeline.h"
#include "plan_test_files.h"
#include "runtime/model_loader.h"
#include "runtime/plan_format.h"

namespace kiln {
namespace {

std::string write_cpu_plan(const testing::TempDir& dir, ir::Graph* optimized) {
  *optimized = testing::mini_resnet();
  passes::optimize_for_inference(*optimized, Precision::kFP32);
  BuildOptions options;
  auto engine = cpu::make_cpu_backend()->build(*optimized, options);
  const std::string path = dir.file("model.plan");
  engine->save_plan(path);
  return path;
}

TEST(PlanEngine, CpuEngineSavesAPlanThatLoadEngineRuns) {
  testing::TempDir dir;
  ir::Graph graph;
  const std::string path = write_cpu_plan(dir, &graph);
  EXPECT_EQ(detect_model_format(path), ModelFormat::kPlan);
  BuildOptions options;
  options.device = "cpu";
  auto engine = load_engine(path, options);
  EXPECT_EQ(engine->device(), "cpu");
  EXPECT_EQ(engine->precision(), Precision::kFP32);
  ASSERT_EQ(engine->inputs().size(), 1u);
  EXPECT_EQ(engine->inputs()[0].name, "image");
  EXPECT_EQ(engine->outputs()[0].name, "prob_out");

  std::mt19937 rng(3);
  const std::vector<Tensor> inputs = {testing::random_tensor({2, 3, 16, 16}, rng)};
  std::vector<Tensor> outputs;
  auto context = engine->create_context();
  ASSERT_TRUE(context->run(inputs, &outputs).ok());
  const std::vector<Tensor> expected = cpu::run_graph(graph, inputs);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(std::memcmp(outputs[0].raw(), expected[0].raw(), expected[0].nbytes()), 0);
}

TEST(PlanEngine, PlanForAnotherDeviceIsRefused) {
  testing::TempDir dir;
  ir::Graph graph;
  const std::string path = write_cpu_plan(dir, &graph);
  BuildOptions options;
  options.device = "cuda:0";
  try {
    load_engine(path, options);
    ADD_FAILURE() << "a cpu plan loaded for cuda:0";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("plan was built for cpu, but device 'cuda:0' was asked for"),
              std::string::npos)
        << e.what();
  }

  Plan cuda_plan = load_plan(path);
  cuda_plan.backend = "cuda";
  save_plan(cuda_plan, dir.file("cuda.plan"));
  options.device = "cpu";
  try {
    load_engine(dir.file("cuda.plan"), options);
    ADD_FAILURE() << "a cuda plan loaded for the cpu";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("plan was built for cuda"), std::string::npos) << e.what();
  }
}

TEST(PlanEngine, ImportModelRefusesAPlan) {
  testing::TempDir dir;
  ir::Graph graph;
  EXPECT_THROW(import_model(write_cpu_plan(dir, &graph)), Error);
}

}  // namespace
}  // namespace kiln
