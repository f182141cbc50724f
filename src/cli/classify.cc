#include "cli/classify.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "engine/graph_io.h"
#include "engine/plan_format.h"
#include "image/image.h"
#include "image/labels.h"
#include "runtime/model_loader.h"

namespace kiln::cli {

namespace fs = std::filesystem;

namespace {

bool has_metadata(const ir::Graph& g, const std::string& key) {
  for (const auto& kv : g.metadata)
    if (kv.first == key) return true;
  return false;
}

// Models without preprocessing metadata still say their input size: a 299x299 NCHW
// input gets Resize(342)/CenterCrop(299), keeping torchvision's 256:224 ratio.
image::Preprocess adapt_to_input(image::Preprocess p, const Dims& dims) {
  if (dims.size() != 4) return p;
  const bool nhwc = dims[3] == 3 && dims[1] != 3;
  const int64_t h = nhwc ? dims[1] : dims[2];
  const int64_t w = nhwc ? dims[2] : dims[3];
  p.nhwc = nhwc;
  if (h > 0 && h == w && h != p.crop) {
    p.crop = static_cast<int>(h);
    p.resize_shorter = static_cast<int>(std::lround(static_cast<double>(h) * 256.0 / 224.0));
  }
  return p;
}

}  // namespace

LoadedModel::LoadedModel(const std::string& path) : path_(path) {
  if (detect_model_format(path) == ModelFormat::kPlan) {
    // A plan keeps its model's metadata, so images are prepared as for the model it came
    // from (a TF graph's 240x240 [-1, 1] input, say), not with the ImageNet defaults.
    const Plan plan = load_plan(path);
    preprocess_ = image::preprocess_from_metadata(plan.graph.metadata);
    if (!has_metadata(plan.graph, image::kPreprocessMetadataKey) && !plan.graph.inputs.empty())
      preprocess_ = adapt_to_input(preprocess_, plan.graph.value(plan.graph.inputs[0]).dims);
    return;
  }
  graph_ = import_model(path);
  inputs_ = graph_inputs(*graph_);
  preprocess_ = image::preprocess_from_metadata(graph_->metadata);
  if (!has_metadata(*graph_, image::kPreprocessMetadataKey) && !inputs_.empty())
    preprocess_ = adapt_to_input(preprocess_, inputs_[0].dims);
}

std::unique_ptr<Engine> LoadedModel::build(const BuildOptions& options) const {
  if (!graph_) return load_engine(path_, options);
  return make_backend(options.device)->build(*graph_, options);
}

Tensor load_image_batch(const std::vector<std::string>& paths, const image::Preprocess& preprocess) {
  std::vector<image::Image> images;
  images.reserve(paths.size());
  for (const std::string& p : paths) images.push_back(image::load_image(p));
  return image::preprocess_batch(images, preprocess);
}

Tensor load_image_batch_for(const Engine& engine, const std::vector<std::string>& paths,
                            const image::Preprocess& preprocess) {
  if (engine.inputs().empty() || engine.inputs()[0].dtype != DType::kU8) return load_image_batch(paths, preprocess);
  std::vector<image::Image> images;
  images.reserve(paths.size());
  for (const std::string& p : paths) images.push_back(image::load_image(p));
  return image::pixel_batch(images, preprocess);
}

std::string find_data_file(const std::string& relative) {
  if (const char* env = std::getenv("KILN_DATA_DIR"); env && *env) return (fs::path(env) / relative).string();
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  // build/kiln -> ../data; an installed bin/kiln -> ../share/kiln/data.
  for (int up = 0; !ec && up < 4 && !dir.empty(); ++up, dir = dir.parent_path()) {
    for (const fs::path& candidate : {dir / "data" / relative, dir / "share" / "kiln" / "data" / relative})
      if (fs::exists(candidate, ec)) return candidate.string();
    if (dir == dir.root_path()) break;
  }
  return (fs::path("data") / relative).string();
}

std::vector<std::string> load_labels_or_default(const std::string& labels_path) {
  if (!labels_path.empty()) return image::load_labels(labels_path);
  const std::string path = find_data_file("imagenet_classes.txt");
  try {
    return image::load_labels(path);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (pass --labels FILE or set KILN_DATA_DIR)", e.code());
  }
}

std::vector<std::vector<Prediction>> top_predictions(const Tensor& output, const std::vector<std::string>& labels,
                                                     int k) {
  KILN_CHECK(output.rank() >= 1, "model output {} is a scalar, not class scores", output.describe());
  const Tensor scores = output.dtype() == DType::kF32 ? output : output.cast(DType::kF32);
  const int64_t rows = output.rank() == 1 ? 1 : output.dims()[0];
  const int64_t classes = rows ? output.numel() / rows : 0;
  KILN_CHECK(classes >= 1, "model output {} has no class scores", output.describe());
  const bool background = static_cast<int64_t>(labels.size()) + 1 == classes;
  std::vector<std::vector<Prediction>> result;
  for (int64_t r = 0; r < rows; ++r) {
    std::span<const float> row(scores.data<float>() + r * classes, static_cast<size_t>(classes));
    double sum = 0;
    bool in_unit_range = true;
    for (float v : row) {
      sum += v;
      in_unit_range = in_unit_range && v >= 0.0f && v <= 1.0f;
    }
    // Probabilities already (a Softmax at the end of the model) or logits?
    std::vector<float> probs = in_unit_range && std::abs(sum - 1.0) < 1e-3
                                   ? std::vector<float>(row.begin(), row.end())
                                   : image::softmax(row);
    std::vector<Prediction> top;
    for (auto [index, prob] : image::top_k(probs, k)) {
      Prediction p;
      p.class_index = index;
      p.prob = prob;
      const int label_index = background ? index - 1 : index;
      if (background && index == 0) p.label = "background";
      else if (label_index >= 0 && label_index < static_cast<int>(labels.size())) p.label = labels[label_index];
      else p.label = fmt::format("class {}", index);
      top.push_back(std::move(p));
    }
    result.push_back(std::move(top));
  }
  return result;
}

std::vector<Tensor> run_or_throw(ExecutionContext& context, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> outputs;
  const Status status = context.run(inputs, &outputs);
  if (!status.ok()) throw Error(status.message(), status.code());
  return outputs;
}

}  // namespace kiln::cli
