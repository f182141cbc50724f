// Lowerings added to the CUDA engine (Slice, Split, Pad, Transpose, asymmetric conv pads,
// channel-padded convolutions) and per-batch-size tactics, against the CPU backend.
#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "cuda_engine_support.h"
#include "backends/cuda/image_input.h"
#include "backends/cuda/lower_for_device.h"
#include "engine/plan_format.h"
#include "passes/pipeline.h"

namespace kiln::cuda_test {
namespace {

// conv -> Slice (channels, stepped width) -> Pad -> Split -> (Relu, Transpose), plus a
// negative-step Slice of the conv output: every movement op on NHWC and NCHW values.
ir::Graph movement_graph() {
  GraphBuilder b({1, 6, 12, 12});
  const int y = b.conv(b.input(), 6, 16, 3, 1, 1);
  const int s = b.node("Slice", {y, b.ints({2, 1}), b.ints({14, 11}), b.ints({1, 3}), b.ints({1, 2})});
  const int p = b.node("Pad", {s, b.ints({0, 1, 2, 0, 0, 0, 1, 3}), b.constant({1}, 1.0f)});
  ir::Attributes split;
  split.set("axis", int64_t{1});
  const auto parts = b.multi_node("Split", {p, b.ints({4, 9})}, 2, split);
  const int relu = b.node("Relu", {parts[0]});
  ir::Attributes perm;
  perm.set("perm", std::vector<int64_t>{0, 2, 3, 1});
  const int t = b.node("Transpose", {parts[1]}, perm);
  const int back = b.node("Slice", {y, b.ints({-1}), b.ints({-1000}), b.ints({2}), b.ints({-2})});
  return b.finish({relu, t, back});
}

int count_ops(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes) n += node.op == op;
  return n;
}

// The lowering itself runs on the host: these checks need no GPU.
TEST(CudaLowering, MovementOpsKeepNhwcAndBecomeAttributes) {
  ir::Graph g = movement_graph();
  passes::optimize_for_inference(g, Precision::kFP16);
  const cuda::LoweredGraph l = cuda::lower_for_device(g, Precision::kFP16, 3);
  int checked = 0;
  for (const auto& n : l.graph.nodes) {
    if (n.op == "Slice" || n.op == "Pad" || n.op == "Split") {
      EXPECT_EQ(n.inputs.size(), 1u) << n.name;  // constant inputs became attributes
      if (n.op != "Split") {
        EXPECT_EQ(l.layouts.at(n.inputs[0]), cuda::Layout::kNHWC) << n.name;
      }
      ++checked;
    }
    if (n.op == "Transpose") {
      EXPECT_EQ(l.layouts.at(n.inputs[0]), cuda::Layout::kNCHW);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 5);
  const auto& slice = *std::find_if(l.graph.nodes.begin(), l.graph.nodes.end(), [](const auto& n) { return n.op == "Slice"; });
  EXPECT_EQ(slice.attrs.get_ints("starts"), (std::vector<int64_t>{0, 2, 0, 1}));
  EXPECT_EQ(slice.attrs.get_ints("steps"), (std::vector<int64_t>{1, 1, 1, 2}));
}

TEST(CudaLowering, AsymmetricPadsBecomeExplicitPad) {
  GraphBuilder b({1, 3, 16, 16});
  ir::Attributes a;
  a.set("kernel_shape", std::vector<int64_t>{3, 3});
  a.set("strides", std::vector<int64_t>{2, 2});
  a.set("pads", std::vector<int64_t>{0, 1, 1, 2});
  const ir::Graph g = b.finish({b.node("Conv", {b.input(), b.constant({8, 3, 3, 3}, 0.2f)}, a)});
  const cuda::LoweredGraph l = cuda::lower_for_device(g, Precision::kFP16, 2);
  ASSERT_EQ(count_ops(l.graph, "Pad"), 1);
  for (const auto& n : l.graph.nodes) {
    if (n.op == "Pad") {
      EXPECT_EQ(n.attrs.get_ints("pads"), (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 1, 1}));
    }
    if (n.op == "Conv") {
      EXPECT_EQ(n.attrs.get_ints("pads"), (std::vector<int64_t>{0, 1, 0, 1}));
      ASSERT_TRUE(n.has_input(5)) << "3 input channels in fp16: a channel-padded filter";
      EXPECT_EQ(l.graph.value(n.inputs[5]).dims, (Dims{8, 8, 3, 3}));
    }
  }
}

TEST(CudaLowering, ImageInputReplacesTheInputConversion) {
  GraphBuilder b({1, 3, 8, 8});
  const ir::Graph g = b.finish({b.node("Relu", {b.conv(b.input(), 3, 8, 3, 1, 1)})});
  cuda::LoweredGraph l = cuda::lower_for_device(g, Precision::kFP16, 2);
  const int converts = count_ops(l.graph, "Convert");
  ImageInput options;
  options.enabled = true;
  cuda::add_image_input(l, options);
  EXPECT_EQ(count_ops(l.graph, "InputStage"), 1);
  EXPECT_EQ(count_ops(l.graph, "Convert"), converts - 1);
  const ir::Value& in = l.graph.value(l.graph.inputs[0]);
  EXPECT_EQ(in.name, "x");
  EXPECT_EQ(in.dtype, DType::kU8);
  EXPECT_EQ(in.dims, (Dims{2, 8, 8, 3}));
  options.std[1] = 0;
  cuda::LoweredGraph again = cuda::lower_for_device(g, Precision::kFP16, 2);
  EXPECT_THROW(cuda::add_image_input(again, options), Error);
}

TEST(CudaLowering, MovementOpsMatchCpu) {
  KILN_REQUIRE_GPU();
  const ir::Graph g = movement_graph();
  for (Precision p : gpu_precisions()) {
    auto engine = build_gpu(g, p, 3);
    for (int batch : {1, 3}) {
      const Tensor x = random_tensor({batch, 6, 12, 12}, 31 + batch);
      const auto want = cpu::run_graph(g, {x});
      const auto got = run_gpu(*engine, {x}, 3);
      ASSERT_EQ(got.size(), want.size()) << precision_name(p);
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(got[i].dims(), want[i].dims()) << precision_name(p) << " output " << i;
        EXPECT_LE(relative_l2(got[i], want[i]), tolerance(p)) << precision_name(p) << " output " << i << " batch " << batch;
      }
    }
  }
}

TEST(CudaLowering, AsymmetricConvPadsMatchCpu) {
  KILN_REQUIRE_GPU();
  // TensorFlow "SAME" padding with stride 2 on an even size pads only bottom/right.
  GraphBuilder b({1, 8, 16, 16});
  ir::Attributes a;
  a.set("kernel_shape", std::vector<int64_t>{3, 3});
  a.set("strides", std::vector<int64_t>{2, 2});
  a.set("pads", std::vector<int64_t>{0, 1, 1, 2});
  const int y = b.node("Conv", {b.input(), b.constant({12, 8, 3, 3}, 0.2f), b.constant({12}, 0.1f)}, a);
  const ir::Graph g = b.finish({b.node("Relu", {y})});
  const Tensor x = random_tensor({2, 8, 16, 16}, 5);
  const auto want = cpu::run_graph(g, {x});
  for (Precision p : gpu_precisions()) {
    const auto got = run_gpu(*build_gpu(g, p, 2), {x}, 3);
    ASSERT_EQ(got.size(), 1u) << precision_name(p);
    ASSERT_EQ(got[0].dims(), want[0].dims());
    EXPECT_LE(relative_l2(got[0], want[0]), tolerance(p)) << precision_name(p);
  }
}

TEST(CudaLowering, PadAlongBatchIsUnimplemented) {
  KILN_REQUIRE_GPU();
  GraphBuilder b({1, 4, 5, 5});
  const ir::Graph g = b.finish({b.node("Pad", {b.input(), b.ints({1, 0, 0, 0, 0, 0, 0, 0})})});
  try {
    build_gpu(g, Precision::kFP16, 2);
    FAIL() << "padding the batch axis built";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnimplemented) << e.what();
    EXPECT_NE(std::string(e.what()).find("Pad"), std::string::npos) << e.what();
  }
}

ir::Graph thin_input_convs() {
  GraphBuilder b({1, 3, 20, 20});
  int y = b.conv(b.input(), 3, 16, 7, 2, 3);
  y = b.node("Relu", {y});
  y = b.conv(y, 16, 8, 3, 1, 1);
  return b.finish({y});
}

nlohmann::json& conv_tactic(Plan& plan, size_t which) {
  size_t seen = 0;
  for (auto& t : plan.backend_data.at("tactics"))
    if (t.is_object() && t.contains("buckets") && seen++ == which) return t;
  throw std::runtime_error("conv tactic not found");
}

// Tactics are timed per batch bucket (1, 4, 16, ..., max) and stored per bucket in the
// plan; every batch size runs correctly, with the stored tactics and with a plan whose
// tactics are edited (channel padding forced; the single-tactic form of older plans).
TEST(CudaLowering, PerBatchTacticsStoredAndCorrect) {
  KILN_REQUIRE_GPU();
  const ir::Graph g = thin_input_convs();
  auto engine = build_gpu(g, Precision::kFP16, 20);
  const std::string path = (std::filesystem::temp_directory_path() / "kiln_cuda_tactics_test.plan").string();
  engine->save_plan(path);
  Plan plan = load_plan(path);
  std::filesystem::remove(path);
  std::vector<int> buckets;
  for (const auto& b : conv_tactic(plan, 0).at("buckets")) buckets.push_back(b.at("batch").get<int>());
  EXPECT_EQ(buckets, (std::vector<int>{1, 4, 16, 20}));

  auto check = [&](Engine& e, const char* what) {
    for (int batch : {1, 3, 5, 17, 20}) {
      const Tensor x = random_tensor({batch, 3, 20, 20}, 100 + batch);
      const auto want = cpu::run_graph(g, {x});
      const auto got = run_gpu(e, {x}, 3);
      ASSERT_EQ(got.size(), 1u) << what;
      EXPECT_LE(relative_l2(got[0], want[0]), tolerance(Precision::kFP16)) << what << " batch " << batch;
    }
  };
  check(*engine, "built");
  BuildOptions o;
  o.device = "cuda:0";
  Plan padded = plan;
  conv_tactic(padded, 0) = {{"buckets", {{{"batch", 20}, {"algo", 0}, {"fused", false}, {"pad_channels", true},
                                          {"workspace", 0}}}}};
  check(*cuda::load_cuda_plan(padded, o), "channels padded");
  Plan legacy = plan;
  conv_tactic(legacy, 0) = {{"algo", 0}, {"fused", false}, {"workspace", 0}};
  check(*cuda::load_cuda_plan(legacy, o), "single tactic");
}

// 1x1 stride-1 NHWC convolutions may run as one cuBLASLt GEMM (bias, residual and relu in
// its epilogue). The plan is edited so that every conv asks for that tactic: pointwise convs
// run it, the others fall back to cuDNN.
TEST(CudaLowering, PointwiseConvAsGemmMatchesCpu) {
  KILN_REQUIRE_GPU();
  GraphBuilder b({1, 16, 8, 8});
  const int pointwise = b.conv(b.input(), 16, 32, 1, 1, 0);
  const int spatial = b.conv(b.input(), 16, 32, 3, 1, 1);
  const int sum = b.node("Relu", {b.node("Add", {spatial, pointwise})});
  const int plain = b.conv(sum, 32, 24, 1, 1, 0);
  const ir::Graph g = b.finish({b.node("Relu", {sum}), plain});
  const std::string path = (std::filesystem::temp_directory_path() / "kiln_cuda_gemm_test.plan").string();
  BuildOptions o;
  o.device = "cuda:0";
  for (Precision p : {Precision::kFP32, Precision::kTF32, Precision::kFP16, Precision::kBF16}) {
    auto engine = build_gpu(g, p, 4);
    engine->save_plan(path);
    Plan plan = load_plan(path);
    for (auto& t : plan.backend_data.at("tactics"))
      if (t.is_object() && t.contains("buckets"))
        t = {{"buckets", {{{"batch", 4}, {"algo", 0}, {"fused", false}, {"workspace", 0}, {"gemm", true},
                           {"gemm_algo", ""}}}}};
    auto as_gemm = cuda::load_cuda_plan(plan, o);
    for (int batch : {1, 4}) {
      const Tensor x = random_tensor({batch, 16, 8, 8}, 60 + batch);
      const auto want = cpu::run_graph(g, {x});
      for (Engine* e : {engine.get(), as_gemm.get()}) {
        const auto got = run_gpu(*e, {x}, 3);
        ASSERT_EQ(got.size(), 2u) << precision_name(p);
        for (size_t i = 0; i < 2; ++i)
          EXPECT_LE(relative_l2(got[i], want[i]), tolerance(p))
              << precision_name(p) << (e == engine.get() ? " built" : " gemm") << " output " << i << " batch " << batch;
      }
    }
  }
  std::filesystem::remove(path);
}

// Pooling through cuDNN and the per-element permute for thin layout conversions are timed
// alternatives; the plan is edited so that both run whatever the timing chose.
TEST(CudaLowering, CudnnPoolingAndPermuteTacticsMatchCpu) {
  KILN_REQUIRE_GPU();
  GraphBuilder b({1, 3, 18, 18});
  ir::Attributes maxpool, avgpool;
  maxpool.set("kernel_shape", std::vector<int64_t>{3, 3});
  maxpool.set("strides", std::vector<int64_t>{2, 2});
  maxpool.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  avgpool = maxpool;
  const int y = b.node("Relu", {b.conv(b.input(), 3, 16, 3, 1, 1)});
  const int m = b.node("MaxPool", {y}, maxpool);
  const int a = b.node("AveragePool", {y}, avgpool);
  const ir::Graph g = b.finish({m, a});
  const std::string path = (std::filesystem::temp_directory_path() / "kiln_cuda_pool_test.plan").string();
  BuildOptions o;
  o.device = "cuda:0";
  for (Precision p : {Precision::kFP32, Precision::kFP16}) {
    build_gpu(g, p, 3)->save_plan(path);
    Plan plan = load_plan(path);
    int forced = 0;
    for (auto& t : plan.backend_data.at("tactics")) {
      if (t.is_object() && t.contains("cudnn")) t["cudnn"] = true, ++forced;
      if (t.is_object() && t.contains("permute")) t["permute"] = true, ++forced;
    }
    EXPECT_GE(forced, p == Precision::kFP16 ? 3 : 2) << precision_name(p);
    auto engine = cuda::load_cuda_plan(plan, o);
    for (int batch : {1, 3}) {
      const Tensor x = random_tensor({batch, 3, 18, 18}, 90 + batch);
      const auto want = cpu::run_graph(g, {x});
      const auto got = run_gpu(*engine, {x}, 3);
      ASSERT_EQ(got.size(), 2u);
      for (size_t i = 0; i < 2; ++i)
        EXPECT_LE(relative_l2(got[i], want[i]), tolerance(p)) << precision_name(p) << " output " << i;
    }
  }
  std::filesystem::remove(path);
}

TEST(CudaLowering, ProfilingModeMatchesAndReports) {
  KILN_REQUIRE_GPU();
  const ir::Graph g = thin_input_convs();
  const Tensor x = random_tensor({2, 3, 20, 20}, 3);
  const auto want = cpu::run_graph(g, {x});
  setenv("KILN_PROFILE", "1", 1);
  auto engine = build_gpu(g, Precision::kFP16, 2);
  testing::internal::CaptureStderr();
  {
    const auto got = run_gpu(*engine, {x}, 3);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_LE(relative_l2(got[0], want[0]), tolerance(Precision::kFP16));
  }
  const std::string report = testing::internal::GetCapturedStderr();
  unsetenv("KILN_PROFILE");
  EXPECT_NE(report.find("kiln profile: batch 2, 2 runs"), std::string::npos) << report;
  EXPECT_NE(report.find("(FusedConv)"), std::string::npos) << report;
}

// uint8 RGB pixels in, normalized on the device: the same as feeding the host-normalized
// f32 NCHW tensor to the CPU backend.
TEST(CudaLowering, ImageInputMatchesHostNormalization) {
  KILN_REQUIRE_GPU();
  GraphBuilder b({1, 3, 10, 12});
  int y = b.conv(b.input(), 3, 8, 3, 1, 1);
  y = b.node("Relu", {y});
  const ir::Graph g = b.finish({y});
  const int n = 2, h = 10, w = 12;
  Tensor pixels(DType::kU8, {n, h, w, 3});
  std::mt19937 rng(42);
  for (uint8_t& p : pixels.span<uint8_t>()) p = static_cast<uint8_t>(rng() & 0xff);
  for (bool bgr : {false, true}) {
    BuildOptions o;
    o.device = "cuda:0";
    o.precision = Precision::kFP16;
    o.max_batch_size = 2;
    o.image_input.enabled = true;
    o.image_input.bgr = bgr;
    const ImageInput& in = o.image_input;
    Tensor x(DType::kF32, {n, 3, h, w});
    for (int i = 0; i < n; ++i)
      for (int c = 0; c < 3; ++c)
        for (int r = 0; r < h * w; ++r) {
          const int src_c = bgr ? 2 - c : c;
          const float p = pixels.data<uint8_t>()[(i * h * w + r) * 3 + src_c];
          x.data<float>()[(i * 3 + c) * h * w + r] = (p * in.scale - in.mean[c]) / in.std[c];
        }
    auto engine = cuda::make_cuda_backend(0)->build(g, o);
    ASSERT_EQ(engine->inputs().size(), 1u);
    EXPECT_EQ(engine->inputs()[0].dtype, DType::kU8);
    EXPECT_EQ(engine->inputs()[0].dims, (Dims{kDynamic, h, w, 3}));
    const auto want = cpu::run_graph(g, {x});
    const auto got = run_gpu(*engine, {pixels}, 3);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_LE(relative_l2(got[0], want[0]), tolerance(Precision::kFP16)) << "bgr " << bgr;
    std::vector<Tensor> out;
    EXPECT_FALSE(engine->create_context()->run({x}, &out).ok()) << "an f32 tensor was accepted as pixels";
  }
}

}  // namespace
}  // namespace kiln::cuda_test
