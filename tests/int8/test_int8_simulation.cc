// The INT8 scheme simulated on the CPU with Quantize/DequantizeLinear pairs where the GPU
// quantizes (inputs of INT8 convolutions, INT8 outputs and residuals, per-channel weights),
// on zoo ResNet-50 with photos: separates the loss of the scheme from the device code.
// KILN_SIM_CALIBRATOR picks the calibrator (percentile by default), KILN_SIM_PRINT=1 prints
// the thresholds beside the min-max ones.
#ifdef KILN_HAVE_CUDA

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/cuda/int8/int8_lowering.h"
#include "frontends/onnx/onnx_importer.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "passes/pipeline.h"
#include "quant/calibration_data.h"
#include "quant/int8_reference.h"
#include "quant/int8_simulation.h"
#include "zoo/zoo.h"

namespace kiln::cuda {
namespace {

TEST(Int8Simulation, ResNet50OnPhotosAgreesWithFp32) {
  const char* root = std::getenv("KILN_PRETRAINED_DIR");
  if (!root || !std::filesystem::is_directory(std::filesystem::path(root) / "images"))
    GTEST_SKIP() << "KILN_PRETRAINED_DIR not set or without images/";
  const std::string photos = (std::filesystem::path(root) / "images").string();
  ir::Graph g = onnx::import_onnx_model(zoo::build_zoo_model("resnet50"), "zoo:resnet50", "");
  passes::optimize_for_inference(g, Precision::kINT8);
  const image::Preprocess pre = image::preprocess_from_metadata(g.metadata);
  const quant::CalibrationTable table =
      quant::calibrate(g, quant::folder_batch_source(g, photos, 8, 0, pre),
                      quant::parse_calibrator(std::getenv("KILN_SIM_CALIBRATOR") ? std::getenv("KILN_SIM_CALIBRATOR") : "percentile"));
  if (std::getenv("KILN_SIM_PRINT")) {
    auto m = quant::calibrate(g, quant::folder_batch_source(g, photos, 8, 0, pre), quant::CalibratorKind::kMinMax);
    int i = 0;
    for (const auto& [k, v] : m.thresholds)
      if (i++ < 25) std::printf("%-50s minmax %10.4f  chosen %10.4f\n", k.c_str(), v, table.thresholds.at(k));
  }
  std::vector<image::Image> images;
  for (const auto& p : quant::list_calibration_files(photos).paths) images.push_back(image::load_image(p));
  const Tensor x = image::preprocess_batch(images, pre);
  const Tensor ref = cpu::run_graph(g, {x})[0];
  const Tensor sim = cpu::run_graph(quant::simulate_int8(g, table, quant::min_int8_input_channels()), {x})[0];
  double num = 0, den = 0;
  int agree = 0;
  const int64_t cols = ref.dim(1);
  for (int64_t r = 0; r < ref.dim(0); ++r) {
    const float* a = ref.data<float>() + r * cols;
    const float* b = sim.data<float>() + r * cols;
    agree += std::max_element(a, a + cols) - a == std::max_element(b, b + cols) - b;
    for (int64_t c = 0; c < cols; ++c) {
      num += (a[c] - b[c]) * (a[c] - b[c]);
      den += a[c] * a[c];
    }
  }
  const double rel = std::sqrt(num / den);
  std::printf("simulated int8 vs fp32: top-1 %d/%lld, logits relative L2 %.4f\n", agree,
              static_cast<long long>(ref.dim(0)), rel);
  // Percentile thresholds: 3/3 photos keep their top-1 class, logits within ~6%.
  EXPECT_EQ(agree, ref.dim(0));
  EXPECT_LE(rel, 0.1);
}

}  // namespace
}  // namespace kiln::cuda

#endif  // KILN_HAVE_CUDA
