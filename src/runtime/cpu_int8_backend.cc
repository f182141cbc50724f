#include "runtime/cpu_int8_backend.h"

#include "backends/cpu/cpu_backend.h"
#include "passes/pipeline.h"
#include "quant/calibration_data.h"
#include "quant/int8_plan.h"
#include "quant/int8_simulation.h"

namespace kiln {

namespace {

class CpuBackendWithInt8 : public Backend {
 public:
  CpuBackendWithInt8() : cpu_(cpu::make_cpu_backend()) {}
  std::string name() const override { return cpu_->name(); }
  std::vector<std::pair<std::string, std::string>> unsupported_ops(const ir::Graph& graph) const override {
    return cpu_->unsupported_ops(graph);
  }
  std::unique_ptr<Engine> build(const ir::Graph& graph, const BuildOptions& options) override {
    if (options.precision != Precision::kINT8 || quant::has_qdq_nodes(graph)) return cpu_->build(graph, options);
    ir::Graph optimized = graph;
    passes::optimize_for_inference(optimized, Precision::kINT8);
    const quant::CalibrationTable table =
        quant::calibration_for_build(optimized, options.calib_data_dir, options.calib_batches, options.calibrator,
                                     options.calib_cache_path, options.progress);
    const ir::Graph simulated = quant::simulate_int8(optimized, table, quant::min_int8_input_channels());
    if (options.progress)
      options.progress("int8 on the CPU: the INT8 scheme simulated with Quantize/DequantizeLinear pairs in f32 "
                       "(for accuracy checks; use --device cuda for speed)");
    return cpu_->build(simulated, options);
  }

 private:
  std::unique_ptr<Backend> cpu_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend_with_int8() { return std::make_unique<CpuBackendWithInt8>(); }

}  // namespace kiln
