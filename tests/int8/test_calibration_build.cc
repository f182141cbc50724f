// Calibration for INT8 builds: folders of .npy tensors or images become batches, the table is
// written to and reused from the cache, and a build without data is refused with advice.
#include <cstdlib>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "core/npy.h"
#include "image/image.h"
#include "ir/shape_inference.h"
#include "quant/calibration_data.h"

namespace kiln::quant {
namespace {

namespace fs = std::filesystem;

Tensor random_tensor(Dims dims, uint32_t seed) {
  Tensor t(DType::kF32, std::move(dims));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

// x [N,3,8,8] -> Relu -> y
ir::Graph relu_graph(int64_t size = 8) {
  ir::Graph g;
  const int x = g.add_value("x", DType::kF32, {kDynamic, 3, size, size});
  const int y = g.add_value("y");
  ir::Node n;
  n.name = "relu";
  n.op = "Relu";
  n.inputs = {x};
  n.outputs = {y};
  g.add_node(std::move(n));
  g.inputs = {x};
  g.outputs = {y};
  ir::infer_shapes(g);
  return g;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / fmt::format("kiln_int8_{}_{}", ::getpid(), counter_++);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

TEST(CalibrationData, NpySamplesAreStackedIntoBatches) {
  TempDir dir;
  for (int i = 0; i < 11; ++i) write_npy_file(dir.file(fmt::format("s{:02}.npy", i)), random_tensor({3, 8, 8}, i));
  const ir::Graph g = relu_graph();
  BatchSource next = folder_batch_source(g, dir.str(), 4, 0, image::Preprocess{});
  std::vector<Tensor> in;
  std::vector<int64_t> sizes;
  while (next(in)) sizes.push_back(in.at(0).dim(0));
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 3}));
  // Samples keep their order: the second batch starts with s04.
  BatchSource again = folder_batch_source(g, dir.str(), 4, 2, image::Preprocess{});
  ASSERT_TRUE(again(in));
  ASSERT_TRUE(again(in));
  const Tensor s04 = read_npy_file(dir.file("s04.npy"));
  EXPECT_EQ(in[0].data<float>()[0], s04.data<float>()[0]);
  EXPECT_FALSE(again(in));  // max_batches = 2
}

TEST(CalibrationData, WholeBatchFilesAreUsedAsIs) {
  TempDir dir;
  write_npy_file(dir.file("a.npy"), random_tensor({5, 3, 8, 8}, 1));
  write_npy_file(dir.file("b.npy"), random_tensor({2, 3, 8, 8}, 2));
  BatchSource next = folder_batch_source(relu_graph(), dir.str(), 8, 0, image::Preprocess{});
  std::vector<Tensor> in;
  ASSERT_TRUE(next(in));
  EXPECT_EQ(in[0].dim(0), 5);
  ASSERT_TRUE(next(in));
  EXPECT_EQ(in[0].dim(0), 2);
  EXPECT_FALSE(next(in));
}

TEST(CalibrationData, WrongShapeNamesTheFile) {
  TempDir dir;
  write_npy_file(dir.file("bad.npy"), random_tensor({3, 9, 8}, 1));
  BatchSource next = folder_batch_source(relu_graph(), dir.str(), 4, 0, image::Preprocess{});
  std::vector<Tensor> in;
  try {
    next(in);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.npy"), std::string::npos) << e.what();
  }
}

TEST(CalibrationData, EmptyMissingOrMixedFoldersAreRefused) {
  TempDir dir;
  EXPECT_THROW(list_calibration_files(dir.str()), Error);
  EXPECT_THROW(list_calibration_files(dir.file("absent")), Error);
  write_npy_file(dir.file("a.npy"), random_tensor({3, 8, 8}, 1));
  { std::FILE* f = std::fopen(dir.file("b.jpg").c_str(), "wb"); std::fclose(f); }
  EXPECT_THROW(list_calibration_files(dir.str()), Error);
}

TEST(CalibrationData, ImagesArePreprocessedAsAtInference) {
  const char* root = std::getenv("KILN_PRETRAINED_DIR");
  if (!root || !fs::is_directory(fs::path(root) / "images")) GTEST_SKIP() << "KILN_PRETRAINED_DIR not set";
  const std::string dir = (fs::path(root) / "images").string();
  const CalibrationFiles files = list_calibration_files(dir);
  ASSERT_FALSE(files.npy);
  BatchSource next = folder_batch_source(relu_graph(224), dir, 8, 0, image::Preprocess{});
  std::vector<Tensor> in;
  ASSERT_TRUE(next(in));
  ASSERT_EQ(in[0].dims(), (Dims{static_cast<int64_t>(files.paths.size()), 3, 224, 224}));
  const Tensor first = image::preprocess_batch({image::load_image(files.paths[0])}, image::Preprocess{});
  for (int64_t i = 0; i < first.numel(); i += 997) ASSERT_EQ(in[0].data<float>()[i], first.data<float>()[i]);
}

TEST(CalibrationForBuild, WithoutDataExplainsWhatToPass) {
  try {
    calibration_for_build(relu_graph(), "", 0, "entropy", "", {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--calib-data"), std::string::npos) << e.what();
  }
}

TEST(CalibrationForBuild, CacheIsWrittenReusedAndCheckedAgainstTheGraph) {
  TempDir data, out;
  for (int i = 0; i < 6; ++i) write_npy_file(data.file(fmt::format("s{}.npy", i)), random_tensor({3, 8, 8}, 40 + i));
  const ir::Graph g = relu_graph();
  const std::string cache = out.file("calib.cache");
  std::vector<std::string> lines;
  auto progress = [&](const std::string& l) { lines.push_back(l); };
  const CalibrationTable made = calibration_for_build(g, data.str(), 0, "minmax", cache, progress);
  ASSERT_TRUE(fs::exists(cache));
  EXPECT_GE(lines.size(), 2u);  // a start line and one per batch
  float max_abs = 0;
  for (int i = 0; i < 6; ++i) {
    const Tensor sample = read_npy_file(data.file(fmt::format("s{}.npy", i)));
    for (float v : sample.span<float>()) max_abs = std::max(max_abs, std::fabs(v));
  }
  EXPECT_NEAR(made.thresholds.at("x"), max_abs, max_abs * 0.01);

  lines.clear();
  const CalibrationTable reused = calibration_for_build(g, "", 0, "entropy", cache, progress);  // no data needed
  EXPECT_EQ(reused.thresholds, made.thresholds);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("matches"), std::string::npos);

  try {
    calibration_for_build(relu_graph(16), data.str(), 0, "minmax", cache, {});
    FAIL() << "a cache of another graph must be rejected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another graph"), std::string::npos) << e.what();
  }
}

TEST(CalibrationForBuild, QdqModelsAreRecognised) {
  ir::Graph g = relu_graph();
  EXPECT_FALSE(has_qdq_nodes(g));
  g.nodes[0].op = "QuantizeLinear";
  EXPECT_TRUE(has_qdq_nodes(g));
}

}  // namespace
}  // namespace kiln::quant
