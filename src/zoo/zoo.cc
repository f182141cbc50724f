#include "zoo/zoo.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "zoo/architectures.h"

namespace kiln::zoo {
namespace {

// Four synthetic scenes are enough for stable per-channel statistics (each channel sees
// 4 x H x W positions) and keep generation well under a second per model.
constexpr int kCalibrationBatch = 4;
constexpr int kImageSize = 224;

struct ZooEntry {
  ZooModelInfo info;
  std::string (*build)(ModelBuilder&);
};

const std::vector<ZooEntry>& entries() {
  static const std::vector<ZooEntry> table = {
      {{"resnet50", "ResNet-50 v1.5 (torchvision layout), 224x224, 1000 classes", 25'557'032}, build_resnet50_v1_5},
      {{"resnet50-v2", "ResNet-50 v2, pre-activation (TensorFlow reference graph), 224x224, 1000 classes",
        25'549'352},
       build_resnet50_v2},
      {{"mobilenet-v2", "MobileNet-v2 1.0 (torchvision layout), 224x224, 1000 classes", 3'504'872},
       build_mobilenet_v2},
  };
  return table;
}

// What every zoo model expects, read by src/image (preprocess_from_metadata): the
// torchvision ImageNet evaluation transform.
std::string imagenet_preprocess_json() {
  const nlohmann::json j = {
      {"resize_shorter", 256},  {"crop", 224},          {"interpolation", "bilinear"},
      {"antialias", true},      {"channel_order", "RGB"}, {"scale", 1.0 / 255},
      {"mean", {0.485, 0.456, 0.406}}, {"std", {0.229, 0.224, 0.225}}, {"layout", "NCHW"},
  };
  return j.dump();
}

}  // namespace

const std::vector<ZooModelInfo>& zoo_models() {
  static const std::vector<ZooModelInfo> infos = [] {
    std::vector<ZooModelInfo> v;
    for (const auto& e : entries()) v.push_back(e.info);
    return v;
  }();
  return infos;
}

::onnx::ModelProto build_zoo_model(const std::string& name) {
  for (const auto& e : entries()) {
    if (e.info.name != name) continue;
    ModelBuilder builder(name, synthetic_calibration_batch(kCalibrationBatch, kImageSize, 20240601u));
    const std::string logits = e.build(builder);
    KILN_CHECK(builder.parameter_count() == e.info.parameters,
               "zoo model {}: built {} parameters, the architecture has {}", name, builder.parameter_count(),
               e.info.parameters);
    const std::string doc = e.info.description +
                            ". Synthetic He-normal weights (deterministic), BatchNorm statistics measured on "
                            "synthetic images: the architecture and cost of the real model, not its accuracy.";
    return builder.finish(logits, doc, {{"kiln.preprocess", imagenet_preprocess_json()},
                                        {"kiln.zoo_model", name}});
  }
  std::string known;
  for (const auto& e : entries()) known += (known.empty() ? "" : ", ") + e.info.name;
  fail_with(ErrorCode::kNotFound, "unknown zoo model \"{}\" (known: {})", name, known);
}

void write_zoo_model(const std::string& name, const std::string& path) {
  const ::onnx::ModelProto model = build_zoo_model(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail_with(ErrorCode::kNotFound, "{}: cannot open for writing", path);
  if (!model.SerializeToOstream(&out)) fail("{}: failed to write the model", path);
  out.close();
  if (!out) fail("{}: failed to write the model (disk full?)", path);
}

}  // namespace kiln::zoo
