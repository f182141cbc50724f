#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "backends/cpu/cpu_backend.h"
#include "core/error.h"
#include "frontends/onnx/onnx_importer.h"
#include "image/image.h"
#include "image/labels.h"
#include "image/preprocess.h"
#include "zoo/model_builder.h"
#include "zoo/zoo.h"

namespace kiln::zoo {
namespace {

namespace fs = std::filesystem;

// Trainable parameters read back from the proto: every initializer except BatchNorm
// running statistics (inputs 3 and 4) and scalars (Clip bounds).
int64_t count_parameters(const ::onnx::ModelProto& model) {
  std::set<std::string> statistics;
  for (const auto& node : model.graph().node())
    if (node.op_type() == "BatchNormalization") {
      statistics.insert(node.input(3));
      statistics.insert(node.input(4));
    }
  int64_t total = 0;
  for (const auto& t : model.graph().initializer()) {
    if (statistics.count(t.name()) || t.dims_size() == 0) continue;
    int64_t n = 1;
    for (int64_t d : t.dims()) n *= d;
    total += n;
  }
  return total;
}

std::map<std::string, int> op_counts(const ::onnx::ModelProto& model) {
  std::map<std::string, int> counts;
  for (const auto& node : model.graph().node()) ++counts[node.op_type()];
  return counts;
}

// Built once per model: generation takes seconds.
const ::onnx::ModelProto& model(const std::string& name) {
  static std::map<std::string, ::onnx::ModelProto> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, build_zoo_model(name)).first;
  return it->second;
}

TEST(Zoo, ListsThreeModels) {
  std::vector<std::string> names;
  for (const auto& m : zoo_models()) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"resnet50", "resnet50-v2", "mobilenet-v2"}));
}

TEST(Zoo, UnknownModelIsNotFound) {
  try {
    build_zoo_model("resnet51");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("resnet50"), std::string::npos);
  }
}

TEST(Zoo, ParameterCountsMatchTheReferenceArchitectures) {
  // torchvision's published counts (BatchNorm weight and bias included).
  EXPECT_EQ(count_parameters(model("resnet50")), 25'557'032);
  EXPECT_EQ(count_parameters(model("mobilenet-v2")), 3'504'872);
  EXPECT_EQ(count_parameters(model("resnet50-v2")), 25'549'352);
}

TEST(Zoo, OpCounts) {
  EXPECT_EQ(op_counts(model("resnet50")),
            (std::map<std::string, int>{{"Add", 16}, {"BatchNormalization", 53}, {"Conv", 53}, {"Flatten", 1},
                                        {"Gemm", 1}, {"GlobalAveragePool", 1}, {"MaxPool", 1}, {"Relu", 49}}));
  EXPECT_EQ(op_counts(model("resnet50-v2")),
            (std::map<std::string, int>{{"Add", 16}, {"BatchNormalization", 49}, {"Conv", 53}, {"Flatten", 1},
                                        {"Gemm", 1}, {"GlobalAveragePool", 1}, {"MaxPool", 1}, {"Relu", 49}}));
  EXPECT_EQ(op_counts(model("mobilenet-v2")),
            (std::map<std::string, int>{{"Add", 10}, {"BatchNormalization", 52}, {"Clip", 35}, {"Conv", 52},
                                        {"Flatten", 1}, {"Gemm", 1}, {"GlobalAveragePool", 1}}));
}

TEST(Zoo, InterfaceOpsetAndMetadata) {
  for (const auto& info : zoo_models()) {
    const auto& m = model(info.name);
    EXPECT_EQ(m.ir_version(), 7);
    ASSERT_EQ(m.opset_import_size(), 1);
    EXPECT_EQ(m.opset_import(0).version(), 13);
    ASSERT_EQ(m.graph().input_size(), 1);
    const auto& in = m.graph().input(0);
    EXPECT_EQ(in.name(), "input");
    const auto& shape = in.type().tensor_type().shape();
    ASSERT_EQ(shape.dim_size(), 4);
    EXPECT_EQ(shape.dim(0).dim_param(), "N");
    EXPECT_EQ(shape.dim(1).dim_value(), 3);
    EXPECT_EQ(shape.dim(2).dim_value(), 224);
    ASSERT_EQ(m.graph().output_size(), 1);
    EXPECT_EQ(m.graph().output(0).name(), "logits");
    std::vector<std::pair<std::string, std::string>> metadata;
    for (const auto& p : m.metadata_props()) metadata.emplace_back(p.key(), p.value());
    const image::Preprocess p = image::preprocess_from_metadata(metadata);
    const image::Preprocess defaults;
    EXPECT_EQ(p.resize_shorter, 256);
    EXPECT_EQ(p.crop, 224);
    EXPECT_EQ(p.mean, defaults.mean);
    EXPECT_EQ(p.std, defaults.std);
    EXPECT_FLOAT_EQ(p.scale, 1 / 255.f);
    EXPECT_FALSE(p.nhwc);
    EXPECT_FALSE(p.bgr);
  }
}

TEST(Zoo, DeterministicAcrossBuilds) {
  const std::string a = build_zoo_model("mobilenet-v2").SerializeAsString();
  EXPECT_EQ(a, model("mobilenet-v2").SerializeAsString());
}

TEST(Zoo, WritesFileAndRejectsBadPath) {
  const std::string path = ::testing::TempDir() + "/zoo_mobilenet.onnx";
  write_zoo_model("mobilenet-v2", path);
  EXPECT_GT(fs::file_size(path), 13'000'000u);  // 3.5 M float parameters + BN statistics
  EXPECT_THROW(write_zoo_model("mobilenet-v2", "/nonexistent/dir/m.onnx"), Error);
}

TEST(Zoo, CalibrationBatchIsImageLike) {
  const Activation a = synthetic_calibration_batch(2, 64, 7);
  ASSERT_EQ(a.data.size(), 2u * 3 * 64 * 64);
  double sum = 0, sq = 0;
  for (float v : a.data) {
    ASSERT_TRUE(std::isfinite(v));
    sum += v;
    sq += v * v;
  }
  const double mean = sum / a.data.size(), var = sq / a.data.size() - mean * mean;
  EXPECT_GT(var, 0.05);  // not flat
  EXPECT_LT(std::fabs(mean), 2.0);
}

// Needs the ONNX importer and CPU kernels.
std::vector<float> run_logits(const std::string& name, const Tensor& input) {
  const std::string path = ::testing::TempDir() + "/zoo_run_" + name + ".onnx";
  write_zoo_model(name, path);
  const ir::Graph graph = onnx::import_onnx_file(path);
  const std::vector<Tensor> out = cpu::run_graph(graph, {input});
  EXPECT_EQ(out.at(0).dims(), (Dims{input.dim(0), 1000}));
  const float* p = out.at(0).data<float>();
  return std::vector<float>(p, p + out.at(0).numel());
}

std::vector<std::string> photo_paths() {
  std::vector<std::string> paths;
  for (const char* f : {"sample.jpg", "orange.jpg", "butterfly.jpg"})
    paths.push_back(std::string(KILN_SOURCE_DIR) + "/data/images/" + f);
  if (const char* dir = std::getenv("KILN_PRETRAINED_DIR"))
    for (const char* f : {"cat.bmp", "grace_hopper.bmp", "parrot.jpg"})
      if (fs::exists(fs::path(dir) / "images" / f)) paths.push_back((fs::path(dir) / "images" / f).string());
  return paths;
}

class ZooOnPhotos : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooOnPhotos, LogitsAreSaneAndDependOnTheImage) {
  std::vector<image::Image> images;
  for (const auto& p : photo_paths()) images.push_back(image::load_image(p));
  const Tensor batch = image::preprocess_batch(images, image::Preprocess{});
  const std::vector<float> logits = run_logits(GetParam(), batch);
  std::set<int> top1s;
  bool some_confident = false;
  for (size_t i = 0; i < images.size(); ++i) {
    const std::span<const float> row(logits.data() + i * 1000, 1000);
    double sum = 0, sq = 0;
    for (float v : row) {
      ASSERT_TRUE(std::isfinite(v)) << photo_paths()[i];
      sum += v;
      sq += static_cast<double>(v) * v;
    }
    const double std_dev = std::sqrt(sq / 1000 - (sum / 1000) * (sum / 1000));
    EXPECT_GT(std_dev, 0.05) << photo_paths()[i];
    EXPECT_LT(std_dev, 100) << photo_paths()[i];
    const auto probs = image::softmax(row);
    const auto top = image::top_k(probs, 1)[0];
    top1s.insert(top.first);
    // Neither uniform (1/1000) nor one-hot.
    some_confident = some_confident || (top.second > 0.005f && top.second < 0.999f);
  }
  EXPECT_TRUE(some_confident);
  EXPECT_GE(top1s.size(), 2u) << "every photo gets the same class";
}

TEST_P(ZooOnPhotos, BatchOfOneMatchesBatchedRun) {
  const std::vector<image::Image> images = {image::load_image(photo_paths()[0]), image::load_image(photo_paths()[1])};
  const Tensor both = image::preprocess_batch(images, image::Preprocess{});
  const Tensor first = image::preprocess_batch({images[0]}, image::Preprocess{});
  const auto a = run_logits(GetParam(), both);
  const auto b = run_logits(GetParam(), first);
  for (int k = 0; k < 1000; ++k) ASSERT_NEAR(a[k], b[k], 1e-3f + 1e-4f * std::fabs(b[k]));
}

INSTANTIATE_TEST_SUITE_P(Models, ZooOnPhotos, ::testing::Values("resnet50", "resnet50-v2", "mobilenet-v2"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace kiln::zoo
