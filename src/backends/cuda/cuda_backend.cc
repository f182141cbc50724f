#include "backends/cuda/cuda_backend.h"

#include <optional>

#include <cuda_runtime.h>

#include "backends/cuda/best_build.h"
#include "backends/cuda/cuda_engine.h"
#include "backends/cuda/lower_for_device.h"
#include "engine/precision.h"
#include "passes/pipeline.h"
#include "quant/calibration_data.h"
#include "quant/qdq_folding.h"

namespace kiln::cuda {

namespace {

class CudaBackend : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {}
  std::string name() const override { return fmt::format("cuda:{}", device_); }

  std::vector<std::pair<std::string, std::string>> unsupported_ops(const ir::Graph& graph) const override {
    std::vector<std::pair<std::string, std::string>> out;
    for (const ir::Node& n : graph.nodes) {
      if (cuda_supports_op(n.op)) continue;
      bool seen = false;
      for (const auto& [op, node] : out) seen = seen || op == n.op;
      if (!seen) out.emplace_back(n.op, n.name);
    }
    return out;
  }

  std::unique_ptr<Engine> build(const ir::Graph& graph, const BuildOptions& options) override {
    activation_dtype(options.precision);  // unsupported precisions fail before any work
    if (options.precision == Precision::kFP8) {  // before calibration, which takes minutes
      cudaDeviceProp prop{};
      if (cudaGetDeviceProperties(&prop, device_) != cudaSuccess) fail("cuda:{}: cannot read its properties", device_);
      require_fp8_device(prop.name, prop.major, prop.minor);
    }
    ir::Graph optimized = graph;
    passes::optimize_for_inference(optimized, options.precision);
    // Explicitly quantized models: the Q/DQ pairs become the INT8 ranges (no calibration),
    // then the ReLUs they stood for fuse into the convolutions like any other.
    std::optional<quant::QdqFolding> qdq;
    if (quant::has_qdq_nodes(optimized)) {
      qdq = quant::fold_qdq(optimized);
      passes::optimize_for_inference(optimized, options.precision);
      if (options.progress)
        options.progress(fmt::format("Q/DQ model: {} activation ranges from {} Q/DQ pairs ({} ReLU, {} Clip), {} "
                                     "dequantized constants",
                                     qdq->table.thresholds.size(), qdq->pairs, qdq->relus, qdq->clips, qdq->constants));
    }
    // INT8 and FP8 take the same table (each derives its own scales); best chooses between
    // INT8 and FP16 per layer, so it needs the INT8 ranges too.
    if (options.precision == Precision::kINT8 || options.precision == Precision::kFP8 ||
        options.precision == Precision::kBest) {
      const quant::CalibrationTable table =
          qdq ? qdq->table
              : quant::calibration_for_build(optimized, options.calib_data_dir, options.calib_batches,
                                             options.calibrator, options.calib_cache_path, options.progress);
      if (options.precision == Precision::kBest) return build_best_engine(optimized, options, device_, table);
      return build_cuda_engine(optimized, options, device_, &table);
    }
    return build_cuda_engine(optimized, options, device_);
  }

 private:
  int device_;
};

int device_index(const std::string& device) {
  if (device == "cuda") return 0;
  if (device.rfind("cuda:", 0) == 0) {
    try {
      return std::stoi(device.substr(5));
    } catch (const std::exception&) {
    }
  }
  fail("bad device '{}' for a CUDA plan (expected cuda or cuda:N)", device);
}

}  // namespace

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
  return count;
}

std::unique_ptr<Backend> make_cuda_backend(int device_index) {
  if (device_index < 0 || device_index >= cuda_device_count())
    fail_with(ErrorCode::kUnavailable, "cuda:{} asked for, but {} CUDA device(s) are present", device_index,
              cuda_device_count());
  return std::make_unique<CudaBackend>(device_index);
}

std::unique_ptr<Engine> load_cuda_plan(const Plan& plan, const BuildOptions& options) {
  const std::string device = options.device == "cpu" ? "cuda:0" : options.device;
  const int index = device_index(device);
  if (index >= cuda_device_count())
    fail_with(ErrorCode::kUnavailable, "the plan needs {} but {} CUDA device(s) are present", device,
              cuda_device_count());
  return load_cuda_engine(plan, index);
}

}  // namespace kiln::cuda
