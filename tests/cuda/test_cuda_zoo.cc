// Zoo ResNet-50 on the GPU per precision against the CPU backend, and the GPU benchmark
// (DISABLED_ by default; bench/gpu_bench.sh runs it with KILN_BENCH_OUT set).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "cuda_engine_support.h"
#include "frontends/onnx/onnx_importer.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "storage_rounding.h"
#include "zoo/zoo.h"

namespace kiln::cuda_test {
namespace {

const ir::Graph& resnet50() {
  static const ir::Graph g = onnx::import_onnx_model(zoo::build_zoo_model("resnet50"), "zoo:resnet50", "");
  return g;
}

int64_t argmax_row(const Tensor& t, int64_t row) {
  const int64_t cols = t.dim(1);
  const float* p = t.data<float>() + row * cols;
  return std::max_element(p, p + cols) - p;
}

TEST(CudaZoo, ResNet50MatchesCpuPerPrecision) {
  KILN_REQUIRE_GPU();
  const ir::Graph& g = resnet50();
  const Tensor x = random_tensor({2, 3, 224, 224}, 2024);
  const auto want = cpu::run_graph(g, {x});
  for (Precision p : gpu_precisions()) {
    auto engine = build_gpu(g, p, 2);
    const auto got = run_gpu(*engine, {x}, 3);
    ASSERT_EQ(got.size(), 1u) << precision_name(p);
    // Logits through 50 layers: fp16/bf16 keep 1e-2 relative error, as per-layer tests do.
    EXPECT_LE(relative_l2(got[0], want[0]), tolerance(p) * (p == Precision::kNative || p == Precision::kFP32 ? 10 : 1))
        << precision_name(p);
    for (int64_t r = 0; r < 2; ++r) EXPECT_EQ(argmax_row(got[0], r), argmax_row(want[0], r)) << precision_name(p);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

TEST(CudaZoo, DISABLED_Benchmark) {
  KILN_REQUIRE_GPU();
  const char* out_path = std::getenv("KILN_BENCH_OUT");
  ASSERT_NE(out_path, nullptr) << "set KILN_BENCH_OUT to the JSON file to write";
  const ir::Graph& g = resnet50();
  nlohmann::json results = nlohmann::json::array();
  const int max_batch = 256;
  const char* seconds = std::getenv("KILN_BENCH_SECONDS");
  const double window_s = seconds ? std::atof(seconds) : 1.5;
  for (Precision p : gpu_precisions()) {
    BuildOptions o;
    o.device = "cuda:0";
    o.precision = p;
    o.max_batch_size = max_batch;
    o.timing_cache_path = std::string(out_path) + ".timing_cache";
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Engine> engine;
    try {
      engine = cuda::make_cuda_backend(0)->build(g, o);
    } catch (const Error& e) {
      results.push_back({{"precision", precision_name(p)}, {"error", e.what()}});
      continue;
    }
    const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto ctx = engine->create_context();
    for (int batch : {1, 8, 64, 256}) {
      const Tensor x = random_tensor({batch, 3, 224, 224}, 7);
      std::vector<Tensor> y;
      Status warm;
      for (int i = 0; i < 5 && warm.ok(); ++i) warm = ctx->run({x}, &y);
      if (!warm.ok()) {
        fmt::print("kiln {:6} batch {:3}: error: {}\n", precision_name(p), batch, warm.message());
        results.push_back({{"precision", precision_name(p)}, {"batch", batch}, {"error", warm.message()}});
        ADD_FAILURE() << warm.message();
        continue;
      }
      std::vector<double> compute, total;
      const auto start = std::chrono::steady_clock::now();
      while (compute.size() < 10 ||
             (compute.size() < 200 &&
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < window_s)) {
        Status st = ctx->run({x}, &y);
        ASSERT_TRUE(st.ok()) << st.message();
        compute.push_back(ctx->last_timing().compute_ms);
        total.push_back(ctx->last_timing().total_ms);
      }
      const double c = median(compute), t = median(total);
      results.push_back({{"precision", precision_name(p)}, {"batch", batch}, {"compute_ms_median", c},
                         {"total_ms_median", t}, {"images_per_s_compute", batch * 1000.0 / c},
                         {"images_per_s_total", batch * 1000.0 / t}, {"runs", compute.size()},
                         {"build_s", build_s}});
      fmt::print("kiln {:6} batch {:3}: compute {:8.3f} ms ({:8.0f} img/s), end-to-end {:8.3f} ms\n",
                 precision_name(p), batch, c, batch * 1000.0 / c, t);
    }
  }
  std::ofstream(out_path) << nlohmann::json{{"kiln", results}}.dump(2) << "\n";
}

// Per-op GPU time of fp16 ResNet-50 at batch 256 and 64 (run with KILN_PROFILE=1: the
// context prints the profile when destroyed). Uses the benchmark's timing cache if present.
TEST(CudaZoo, DISABLED_Profile) {
  KILN_REQUIRE_GPU();
  BuildOptions o;
  o.device = "cuda:0";
  o.precision = Precision::kFP16;
  o.max_batch_size = 256;
  if (const char* out_path = std::getenv("KILN_BENCH_OUT")) o.timing_cache_path = std::string(out_path) + ".timing_cache";
  auto engine = cuda::make_cuda_backend(0)->build(resnet50(), o);
  auto ctx = engine->create_context();
  for (int batch : {256, 64}) {
    const Tensor x = random_tensor({batch, 3, 224, 224}, 7);
    std::vector<Tensor> y;
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(ctx->run({x}, &y).ok());
    fmt::print("kiln fp16 batch {} (profiling, op by op): compute {:.3f} ms\n", batch, ctx->last_timing().compute_ms);
  }
}

}  // namespace
}  // namespace kiln::cuda_test

namespace kiln::cuda_test {
namespace {

// Every zoo model on the sample photos (data/images), per precision, against the CPU
// backend. The zoo models carry seeded (untrained) weights, so two things differ from a
// trained network: some photos have runner-up logits within rounding distance of the top
// one, and the error growth through the layers is the network's own. Hence:
//   - logits: FP32 within 1e-4; reduced precisions within the larger of the per-dtype
//     tolerance and twice the drift of the CPU storage-rounding emulation of that format
//     (storage_rounding.h; TF32 is emulated by FP16 storage, which has its mantissa);
//   - top-1: identical on every photo whose top-1 margin over the runner-up is more than
//     6 times the allowed per-logit error, so that a flip means a bug, not a coin toss.
//     Photos under that margin are named in the output.
double row_rms(const Tensor& t, int64_t row) {
  const int64_t cols = t.dim(1);
  const float* p = t.data<float>() + row * cols;
  double s = 0;
  for (int64_t i = 0; i < cols; ++i) s += double(p[i]) * p[i];
  return std::sqrt(s / cols);
}

double top1_margin(const Tensor& t, int64_t row) {
  const int64_t cols = t.dim(1);
  std::vector<float> v(t.data<float>() + row * cols, t.data<float>() + (row + 1) * cols);
  std::partial_sort(v.begin(), v.begin() + 2, v.end(), std::greater<float>());
  return v[0] - v[1];
}

class CudaZooPhotos : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaZooPhotos, MatchCpuPerPrecision) {
  KILN_REQUIRE_GPU();
  const ir::Graph g = onnx::import_onnx_model(zoo::build_zoo_model(GetParam()), "zoo:" + GetParam(), "");
  std::vector<image::Image> photos;
  for (const char* name : {"sample.jpg", "orange.jpg", "butterfly.jpg"})
    photos.push_back(image::load_image(std::string(KILN_SOURCE_DIR) + "/data/images/" + name));
  const Tensor x = image::preprocess_batch(photos, image::preprocess_from_metadata(g.metadata));
  const auto want = cpu::run_graph(g, {x});
  std::map<DType, double> emulated_drift;
  for (DType storage : {DType::kF16, DType::kBF16})
    emulated_drift[storage] = relative_l2(cpu::run_graph(with_storage_rounding(g, storage), {x})[0], want[0]);
  for (Precision p : gpu_precisions()) {
    auto engine = build_gpu(g, p, 4);
    const auto got = run_gpu(*engine, {x}, 2);
    ASSERT_EQ(got.size(), 1u) << precision_name(p);
    double bound = tolerance(p) * 10;
    if (p == Precision::kTF32 || p == Precision::kFP16)
      bound = std::max(tolerance(p), 2 * emulated_drift[DType::kF16]);
    else if (p == Precision::kBF16)
      bound = std::max(tolerance(p), 2 * emulated_drift[DType::kBF16]);
    const double err = relative_l2(got[0], want[0]);
    fmt::print("{} {}: logits rel. L2 {:.3g} (bound {:.3g}; CPU emulation fp16 {:.3g}, bf16 {:.3g})\n", GetParam(),
               precision_name(p), err, bound, emulated_drift[DType::kF16], emulated_drift[DType::kBF16]);
    EXPECT_LE(err, bound) << GetParam() << " " << precision_name(p);
    for (int64_t r = 0; r < x.dim(0); ++r) {
      const double margin = top1_margin(want[0], r) / row_rms(want[0], r);
      if (margin <= 6 * bound) {
        fmt::print("  photo {}: top-1 margin {:.3g} rms is within rounding reach; top-1 {} vs CPU {}\n", r, margin,
                   argmax_row(got[0], r), argmax_row(want[0], r));
        continue;
      }
      EXPECT_EQ(argmax_row(got[0], r), argmax_row(want[0], r)) << GetParam() << " " << precision_name(p) << " photo " << r;
    }
  }
}

// The emulation itself: a value that BF16 cannot hold comes back rounded to 8 bits.
TEST(StorageRounding, RoundsActivationsAndConstantsToTheStorageType) {
  ir::Graph g;
  const int in = g.add_value("x", DType::kF32, {1, 4});
  g.inputs = {in};
  const int c = g.add_constant("c", Tensor::from_vector<float>({1, 4}, {1.00390625f, 0, 0, 0}));
  const int y = g.add_value("y");
  g.add_node(ir::Node{"add", "Add", "", {in, c}, {y}, {}});
  g.outputs = {y};
  ir::infer_shapes(g);
  const Tensor x = Tensor::from_vector<float>({1, 4}, {2.0f, 1.00390625f, -3.0078125f, 0.5f});
  const Tensor exact_out = cpu::run_graph(g, {x})[0];
  const Tensor rounded_out = cpu::run_graph(with_storage_rounding(g, DType::kBF16), {x})[0];
  const auto exact = exact_out.span<float>();
  const auto rounded = rounded_out.span<float>();
  EXPECT_FLOAT_EQ(exact[0], 3.00390625f);
  EXPECT_FLOAT_EQ(rounded[0], 3.0f);   // the constant 1.0039 is stored as 1.0: 2 + 1
  EXPECT_FLOAT_EQ(rounded[1], 1.0f);   // the sum 1.0039 is stored as 1.0
  EXPECT_FLOAT_EQ(rounded[2], -3.0f);  // halfway between -3 and -3.0156: ties to even
  EXPECT_FLOAT_EQ(rounded[3], 0.5f);
}

INSTANTIATE_TEST_SUITE_P(Zoo, CudaZooPhotos, ::testing::Values("resnet50", "resnet50-v2", "mobilenet-v2"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace kiln::cuda_test
