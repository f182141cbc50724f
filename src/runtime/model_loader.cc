#include "runtime/model_loader.h"

#include <filesystem>
#include <fstream>

#include "frontends/onnx/onnx_importer.h"

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
    default:
      fail_with(ErrorCode::kUnimplemented, "{}: TensorFlow models are not supported by this build", path);
  }
}

std::unique_ptr<Engine> load_engine(const std::string& path, const BuildOptions& options) {
  if (detect_model_format(path) == ModelFormat::kPlan)
    fail_with(ErrorCode::kUnimplemented, "{}: kiln plans need the CUDA backend", path);
  ir::Graph graph = import_model(path);
  return make_backend(options.device)->build(graph, options);
}

}  // namespace kiln
