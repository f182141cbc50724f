#include "runtime/model_loader.h"

#include <filesystem>
#include <fstream>

#include "backends/cpu/cpu_backend.h"
#ifdef KILN_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif
#include "engine/plan_format.h"
#include "frontends/onnx/onnx_importer.h"
#include "frontends/tf/tf_importer.h"
#include "passes/pipeline.h"

namespace kiln {

namespace fs = std::filesystem;

const char* model_format_name(ModelFormat format) {
  switch (format) {
    case ModelFormat::kOnnx: return "ONNX";
    case ModelFormat::kTfFrozenGraph: return "TensorFlow frozen graph";
    case ModelFormat::kTfSavedModel: return "TensorFlow SavedModel";
    case ModelFormat::kPlan: return "kiln plan";
  }
  return "?";
}

ModelFormat detect_model_format(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail_with(ErrorCode::kNotFound, "{}: no such file or directory", path);
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "saved_model.pb", ec)) return ModelFormat::kTfSavedModel;
    fail("{}: a directory, but not a SavedModel (no saved_model.pb inside)", path);
  }
  std::ifstream f(path, std::ios::binary);
  char magic[8] = {};
  f.read(magic, sizeof magic);
  if (f.gcount() == 8 && std::string(magic, 8) == "KILNPLAN") return ModelFormat::kPlan;
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".pb" || ext == ".pbtxt") return ModelFormat::kTfFrozenGraph;
  return ModelFormat::kOnnx;  // the ONNX reader reports files that are not ONNX
}

ir::Graph import_model(const std::string& path) {
  switch (detect_model_format(path)) {
    case ModelFormat::kOnnx: return onnx::import_onnx_file(path);
    case ModelFormat::kPlan:
      fail("{}: is a kiln plan, which holds a built engine rather than a graph", path);
    case ModelFormat::kTfFrozenGraph: return tf::import_frozen_graph(path);
    case ModelFormat::kTfSavedModel: return tf::import_saved_model(path);
  }
}

namespace {

bool is_cuda_device(const std::string& device) { return device == "cuda" || device.rfind("cuda:", 0) == 0; }

// A plan holds an engine built for one kind of device; running it elsewhere would need
// a rebuild from the original model, so the mismatch is refused with that advice.
void check_plan_device(const Plan& plan, const std::string& path, const std::string& device) {
  const bool matches = plan.backend == "cpu" ? device == "cpu" : is_cuda_device(device);
  if (!matches)
    fail_with(ErrorCode::kFailedPrecondition,
              "{}: plan was built for {}, but device '{}' was asked for; rebuild it from the model with "
              "kiln build --device {}",
              path, plan.backend, device, device);
}

std::unique_ptr<Engine> engine_from_plan(const std::string& path, const BuildOptions& options) {
  Plan plan = load_plan(path);
  check_plan_device(plan, path, options.device);
  if (plan.backend == "cpu") {
    BuildOptions plan_options = options;
    plan_options.precision = plan.precision;  // the plan's graph was optimized for this precision
    return cpu::make_cpu_backend()->build(plan.graph, plan_options);
  }
#ifdef KILN_HAVE_CUDA
  try {
    return cuda::load_cuda_plan(plan, options);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", path, e.what()), e.code());
  }
#else
  fail_with(ErrorCode::kUnimplemented, "{}: loading CUDA plans is not supported by this build", path);
#endif
}

}  // namespace

std::unique_ptr<Engine> load_engine(const std::string& path, const BuildOptions& options) {
  if (detect_model_format(path) == ModelFormat::kPlan) return engine_from_plan(path, options);
  ir::Graph graph = import_model(path);
  passes::optimize_for_inference(graph, options.precision);
  return make_backend(options.device)->build(graph, options);
}

}  // namespace kiln
