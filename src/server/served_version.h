// One loaded version of a model: its engines (one per device), its dynamic batcher over
// N instances per device, its signature and image preprocessing.
//
// Ownership: the repository holds a shared_ptr while the version is published; each
// in-flight request holds another, so a version replaced by a newer one finishes its
// requests before the repository's unloader stops its batcher and frees the engines.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/dynamic_batcher.h"
#include "server/image_input.h"
#include "server/model_config.h"

namespace kiln::server {

class ServerMetrics;

class ServedVersion {
 public:
  // Loads the model in `version_dir` on every configured device, starts the batcher and
  // runs one warm-up batch. Throws kiln::Error naming the directory on failure.
  static std::shared_ptr<ServedVersion> load(const ModelConfig& config, int64_t version,
                                             const std::string& version_dir, ServerMetrics* metrics);
  ~ServedVersion();

  const std::string& model_name() const { return name_; }
  int64_t version() const { return version_; }
  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  const ImageInputSpec& image_spec() const { return image_; }
  const std::string& model_path() const { return model_path_; }
  DynamicBatcher& batcher() { return *batcher_; }
  // Index of the input with this name, or -1.
  int input_index(std::string_view name) const;

  // Checks request tensors against the signature: count, dtype, rank and the static
  // dimensions after the batch one. Returns kInvalidArgument naming the mismatch.
  Status check_inputs(const std::vector<Tensor>& inputs) const;

  // Stops accepting work and finishes what is queued (the drain before unloading).
  void stop();

 private:
  ServedVersion() = default;
  std::string name_;
  int64_t version_ = 0;
  std::string model_path_;
  std::vector<TensorInfo> inputs_, outputs_;
  ImageInputSpec image_;
  std::unique_ptr<DynamicBatcher> batcher_;
};

// The model file inside a version directory: model.plan, model.onnx, saved_model.pb (the
// directory itself), then any single *.onnx / *.pb. Throws kNotFound listing what it tried.
std::string find_model_file(const std::string& version_dir);

}  // namespace kiln::server
