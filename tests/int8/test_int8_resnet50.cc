// Zoo ResNet-50 in INT8 on the GPU: FP16 vs INT8 throughput at batch 256 and agreement of
// INT8 with FP32 on real photos (DISABLED_ by default: it needs a GPU, minutes, and
// KILN_INT8_PHOTOS = a folder of photos, which also serves as the calibration data).
#ifdef KILN_HAVE_CUDA

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "../cuda/cuda_engine_support.h"
#include "frontends/onnx/onnx_importer.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "quant/calibration_data.h"
#include "zoo/zoo.h"

namespace kiln::cuda_test {
namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median device compute time of one batch (ms).
double time_batch(Engine& engine, int batch) {
  auto ctx = engine.create_context();
  const Tensor x = random_tensor({batch, 3, 224, 224}, 7);
  std::vector<Tensor> y;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(ctx->run({x}, &y).ok());
  std::vector<double> ms;
  const auto start = std::chrono::steady_clock::now();
  while (ms.size() < 10 ||
         (ms.size() < 100 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 1.5)) {
    Status st = ctx->run({x}, &y);
    EXPECT_TRUE(st.ok()) << st.message();
    if (!st.ok()) return -1;
    ms.push_back(ctx->last_timing().compute_ms);
  }
  return median_of(ms);
}

std::vector<int64_t> top5(const Tensor& t, int64_t row) {
  const int64_t cols = t.dim(1);
  const float* p = t.data<float>() + row * cols;
  std::vector<int64_t> idx(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) idx[i] = i;
  std::partial_sort(idx.begin(), idx.begin() + 5, idx.end(), [p](int64_t a, int64_t b) { return p[a] > p[b]; });
  idx.resize(5);
  return idx;
}

TEST(Int8ResNet50, DISABLED_BenchmarkAndAgreement) {
  KILN_REQUIRE_GPU();
  const char* photos = std::getenv("KILN_INT8_PHOTOS");
  const char* out_path = std::getenv("KILN_BENCH_OUT");
  if (!photos) GTEST_SKIP() << "set KILN_INT8_PHOTOS to a folder of photos";
  const ir::Graph g = onnx::import_onnx_model(zoo::build_zoo_model("resnet50"), "zoo:resnet50", "");
  nlohmann::json doc;
  auto build = [&](Precision p, int max_batch) {
    BuildOptions o;
    o.device = "cuda:0";
    o.precision = p;
    o.max_batch_size = max_batch;
    o.calib_data_dir = photos;
    o.calibrator = "entropy";
    o.progress = [](const std::string& l) {
      if (l.find("calibrat") != std::string::npos || l.find("Int8Conv") != std::string::npos) fmt::print("  {}\n", l);
    };
    const auto t0 = std::chrono::steady_clock::now();
    auto e = cuda::make_cuda_backend(0)->build(g, o);
    fmt::print("built {} (max batch {}) in {:.1f} s\n", precision_name(p), max_batch,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return e;
  };
  // Throughput at batch 256.
  for (Precision p : {Precision::kFP16, Precision::kINT8}) {
    auto engine = build(p, 256);
    for (int batch : {1, 64, 256}) {
      const double ms = time_batch(*engine, batch);
      fmt::print("kiln {:5} batch {:3}: compute {:8.3f} ms  {:8.0f} img/s\n", precision_name(p), batch, ms,
                 batch * 1000.0 / ms);
      doc["throughput"].push_back(
          {{"precision", precision_name(p)}, {"batch", batch}, {"compute_ms", ms}, {"images_per_s", batch * 1000.0 / ms}});
    }
  }
  // Agreement with FP32 on the photos and their mirror images.
  const quant::CalibrationFiles files = quant::list_calibration_files(photos);
  std::vector<image::Image> images;
  for (const auto& path : files.paths) {
    image::Image im = image::load_image(path);
    images.push_back(im);
    for (int y = 0; y < im.height; ++y)
      for (int x = 0; x < im.width / 2; ++x)
        for (int c = 0; c < 3; ++c)
          std::swap(im.rgb[(size_t(y) * im.width + x) * 3 + c], im.rgb[(size_t(y) * im.width + im.width - 1 - x) * 3 + c]);
    images.push_back(std::move(im));
  }
  const Tensor batch = image::preprocess_batch(images, image::preprocess_from_metadata(g.metadata));
  const int n = static_cast<int>(images.size());
  const Tensor ref = run_gpu(*build(Precision::kFP32, n), {batch}, 1).at(0);
  const Tensor got = run_gpu(*build(Precision::kINT8, n), {batch}, 1).at(0);
  int agree = 0;
  double overlap = 0;
  for (int r = 0; r < n; ++r) {
    const auto a = top5(got, r), b = top5(ref, r);
    agree += a[0] == b[0];
    for (int64_t v : a) overlap += std::count(b.begin(), b.end(), v) / 5.0;
  }
  const double rel = relative_l2(got, ref);
  fmt::print("int8 vs fp32 on {} photos: top-1 agreement {}/{}, top-5 overlap {:.1f}%, logits relative L2 {:.4f}\n", n,
             agree, n, 100.0 * overlap / n, rel);
  doc["agreement"] = {{"images", n}, {"top1_agree", agree}, {"top5_overlap", overlap / n}, {"logits_rel_l2", rel}};
  if (out_path) std::ofstream(out_path) << doc.dump(2) << "\n";
}

}  // namespace
}  // namespace kiln::cuda_test

#endif  // KILN_HAVE_CUDA
