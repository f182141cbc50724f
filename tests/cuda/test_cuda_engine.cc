// The CUDA engine against the CPU backend on small graphs, per precision.
#include <filesystem>

#include "cuda_engine_support.h"
#include "engine/plan_format.h"

namespace kiln::cuda_test {
namespace {

struct ConvCase {
  const char* name;
  int64_t cin, cout, size, k, stride, pad;
  bool residual;
  const char* act;  // "Relu", "Sigmoid" or ""
};

ir::Graph conv_graph(const ConvCase& c) {
  GraphBuilder b({1, c.cin, c.size, c.size});
  int y = b.conv(b.input(), c.cin, c.cout, c.k, c.stride, c.pad);
  if (c.residual) {
    const int skip = b.conv(b.input(), c.cin, c.cout, 1, c.stride, 0, false);
    y = b.node("Add", {y, skip});
  }
  if (std::string(c.act) != "") y = b.node(c.act, {y});
  return b.finish({y});
}

class ConvPrecision : public ::testing::TestWithParam<std::tuple<ConvCase, Precision>> {};

TEST_P(ConvPrecision, MatchesCpu) {
  KILN_REQUIRE_GPU();
  const auto& [c, precision] = GetParam();
  const ir::Graph g = conv_graph(c);
  auto engine = build_gpu(g, precision, 3);
  for (int batch : {1, 3}) {
    const Tensor x = random_tensor({batch, c.cin, c.size, c.size}, 77 + batch);
    const auto want = cpu::run_graph(g, {x});
    const auto got = run_gpu(*engine, {x}, 3);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].dims(), want[0].dims());
    EXPECT_LE(relative_l2(got[0], want[0]), tolerance(precision))
        << c.name << " " << precision_name(precision) << " batch " << batch;
  }
}

const ConvCase kCases[] = {
    {"relu_3x3", 16, 32, 14, 3, 1, 1, false, "Relu"},
    {"odd_channels_stride2", 5, 13, 15, 3, 2, 1, false, "Relu"},
    {"residual_relu", 8, 24, 9, 3, 1, 1, true, "Relu"},
    {"no_activation_1x1", 7, 9, 8, 1, 1, 0, false, ""},
    {"sigmoid_epilogue", 8, 8, 7, 3, 1, 1, true, "Sigmoid"},
};

INSTANTIATE_TEST_SUITE_P(Cuda, ConvPrecision,
                         ::testing::Combine(::testing::ValuesIn(kCases), ::testing::ValuesIn(gpu_precisions())),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  std::string(precision_name(std::get<1>(info.param)));
                         });

// Conv -> Relu -> MaxPool -> Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> Softmax.
ir::Graph small_classifier() {
  GraphBuilder b({1, 3, 32, 32});
  int y = b.conv(b.input(), 3, 16, 3, 2, 1);
  ir::Attributes pool;
  pool.set("kernel_shape", std::vector<int64_t>{3, 3});
  pool.set("strides", std::vector<int64_t>{2, 2});
  pool.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  y = b.node("Relu", {y});
  y = b.node("MaxPool", {y}, pool);
  y = b.conv(y, 16, 20, 3, 1, 1);
  y = b.node("Relu", {y});
  y = b.node("GlobalAveragePool", {y});
  ir::Attributes flat;
  flat.set("axis", int64_t{1});
  y = b.node("Flatten", {y}, flat);
  ir::Attributes gemm;
  gemm.set("transB", int64_t{1});
  y = b.node("Gemm", {y, b.constant({10, 20}, 0.3f), b.constant({10}, 0.1f)}, gemm);
  y = b.node("Softmax", {y});
  return b.finish({y});
}

TEST(CudaEngine, SmallClassifierAllPrecisions) {
  KILN_REQUIRE_GPU();
  const ir::Graph g = small_classifier();
  const Tensor x = random_tensor({3, 3, 32, 32}, 9);
  const auto want = cpu::run_graph(g, {x});
  for (Precision p : gpu_precisions()) {
    auto engine = build_gpu(g, p, 4);
    const auto got = run_gpu(*engine, {x}, 3);
    ASSERT_EQ(got.size(), 1u) << precision_name(p);
    EXPECT_LE(relative_l2(got[0], want[0]), tolerance(p)) << precision_name(p);
  }
}

TEST(CudaEngine, ContextsShareWeights) {
  KILN_REQUIRE_GPU();
  const ir::Graph g = small_classifier();
  auto engine = build_gpu(g, Precision::kFP16, 2);
  const Tensor x = random_tensor({2, 3, 32, 32}, 10);
  const auto a = run_gpu(*engine, {x}, 3);
  const auto b = run_gpu(*engine, {x}, 1);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_LE(relative_l2(a[0], b[0]), 1e-6);
}

TEST(CudaEngine, BadInputsAreErrorsNotCrashes) {
  KILN_REQUIRE_GPU();
  auto engine = build_gpu(small_classifier(), Precision::kFP16, 2);
  auto ctx = engine->create_context();
  std::vector<Tensor> out;
  EXPECT_EQ(ctx->run({random_tensor({3, 3, 32, 32}, 1)}, &out).code(), ErrorCode::kInvalidArgument);  // batch > max
  EXPECT_FALSE(ctx->run({random_tensor({1, 4, 32, 32}, 1)}, &out).ok());
  EXPECT_FALSE(ctx->run({}, &out).ok());
}

// best picks INT8 or FP16 per layer, so like int8 it needs activation ranges.
TEST(CudaEngine, BestWithoutCalibrationIsRefused) {
  KILN_REQUIRE_GPU();
  try {
    build_gpu(small_classifier(), Precision::kBest, 1);
    FAIL() << "best built";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--calib-data"), std::string::npos) << e.what();
  }
}

TEST(CudaEngine, PlanRoundTripAndWrongGpuRefused) {
  KILN_REQUIRE_GPU();
  const ir::Graph g = small_classifier();
  auto engine = build_gpu(g, Precision::kFP16, 2);
  const std::string path = (std::filesystem::temp_directory_path() / "kiln_cuda_test.plan").string();
  engine->save_plan(path);
  Plan plan = load_plan(path);
  EXPECT_EQ(plan.backend, "cuda");
  BuildOptions o;
  o.device = "cuda:0";
  auto loaded = cuda::load_cuda_plan(plan, o);
  const Tensor x = random_tensor({2, 3, 32, 32}, 11);
  const auto a = run_gpu(*engine, {x});
  const auto b = run_gpu(*loaded, {x});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_LE(relative_l2(b[0], a[0]), 1e-6);
  plan.device["gpu"] = "Imaginary GPU 9000";
  try {
    cuda::load_cuda_plan(plan, o);
    FAIL() << "a plan for another GPU loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("Imaginary GPU 9000"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace kiln::cuda_test
