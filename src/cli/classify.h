// What `kiln run` and `kiln bench` share: loading a model once (its graph gives the
// preprocessing), turning image files into the input batch, and turning a classifier's
// output into labelled top-k predictions.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/engine.h"
#include "image/preprocess.h"
#include "ir/graph.h"

namespace kiln::cli {

// A model file imported once and built as many times as needed.
class LoadedModel {
 public:
  explicit LoadedModel(const std::string& path);
  const std::string& path() const { return path_; }
  // Preprocessing from the model (or plan) metadata; when it states none, the ImageNet
  // defaults adapted to the input's spatial size and layout.
  const image::Preprocess& preprocess() const { return preprocess_; }
  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  bool is_plan() const { return !graph_; }
  std::unique_ptr<Engine> build(const BuildOptions& options) const;

 private:
  std::string path_;
  std::optional<ir::Graph> graph_;  // empty for a kiln plan
  image::Preprocess preprocess_;
  std::vector<TensorInfo> inputs_;
};

// Decodes and preprocesses the images into one batch for the model's first input.
Tensor load_image_batch(const std::vector<std::string>& paths, const image::Preprocess& preprocess);
// The same images as `engine`'s first input takes them: normalized floats, or resized
// uint8 pixels for engines built with --image-input (they normalize on the device).
Tensor load_image_batch_for(const Engine& engine, const std::vector<std::string>& paths,
                            const image::Preprocess& preprocess);

// A file under kiln's data folder: $KILN_DATA_DIR if set, else the first "data" folder
// found next to or above the executable, else ./data.
std::string find_data_file(const std::string& relative);
// --labels if given, else data/imagenet_classes.txt.
std::vector<std::string> load_labels_or_default(const std::string& labels_path);

struct Prediction {
  int class_index = 0;  // index into the model output
  std::string label;
  float prob = 0;
};

// Top-k per batch row of a classifier output [N, C] (or [N, C, 1, 1]). Softmax is applied
// when a row is not already a probability distribution (logits). With C == labels + 1
// the model has a "background" class 0 and label i names class i + 1.
std::vector<std::vector<Prediction>> top_predictions(const Tensor& output, const std::vector<std::string>& labels,
                                                     int k);

// Runs one batch, turning a failed Status into kiln::Error.
std::vector<Tensor> run_or_throw(ExecutionContext& context, const std::vector<Tensor>& inputs);

}  // namespace kiln::cli
