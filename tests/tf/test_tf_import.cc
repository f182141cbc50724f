// TensorFlow frontend: the committed fixtures (made by scripts/make_tf_fixtures.py with
// TensorFlow) import as frozen graphs and SavedModels and reproduce TensorFlow's outputs
// on the CPU backend; bad files give clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "backends/cpu/cpu_backend.h"
#include "core/npy.h"
#include "frontends/tf/checkpoint_reader.h"
#include "frontends/tf/tf_importer.h"
#include "runtime/model_loader.h"

namespace kiln::tf {
namespace {

namespace fs = std::filesystem;
const fs::path kFixtures = fs::path(KILN_SOURCE_DIR) / "tests" / "tf" / "fixtures";

double relative_l2(const Tensor& got, const Tensor& want) {
  const auto a = got.to_doubles(), b = want.to_doubles();
  EXPECT_EQ(a.size(), b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

void expect_matches_tensorflow(const ir::Graph& g, const fs::path& dir) {
  ASSERT_EQ(g.inputs.size(), 1u);
  ASSERT_EQ(g.outputs.size(), 2u);
  // Probabilities first (output 0 is what the CLI and the server read as scores).
  EXPECT_EQ(g.value(g.outputs[0]).dtype, DType::kF32);
  const Tensor input = read_npy_file((dir / "input.npy").string());
  const std::vector<Tensor> out = cpu::run_graph(g, {input});
  const Tensor probs = read_npy_file((dir / "probabilities.npy").string());
  const Tensor classes = read_npy_file((dir / "classes.npy").string());
  const double err = relative_l2(out[0], probs);
  EXPECT_LT(err, 1e-4);
  EXPECT_GT(out[0].numel(), 0);
  ::testing::Test::RecordProperty("relative_l2", std::to_string(err));
  EXPECT_EQ(out[1].to_int64s(), classes.to_int64s());
}

class TfFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(TfFixture, FrozenGraphMatchesTensorFlow) {
  const fs::path dir = kFixtures / GetParam();
  const ir::Graph g = import_frozen_graph((dir / "frozen.pb").string());
  expect_matches_tensorflow(g, dir);
}

TEST_P(TfFixture, SavedModelMatchesTensorFlow) {
  const fs::path dir = kFixtures / GetParam();
  const ir::Graph g = import_saved_model((dir / "saved_model").string());
  EXPECT_EQ(g.value(g.inputs[0]).name, "input");
  EXPECT_EQ(g.value(g.outputs[0]).name, "probabilities");
  EXPECT_EQ(g.value(g.outputs[1]).name, "classes");
  expect_matches_tensorflow(g, dir);
}

TEST_P(TfFixture, ImportedGraphHasNoShapeArithmeticLeft) {
  // Shape -> StridedSlice -> Pack -> Reshape folds to a constant target shape.
  const ir::Graph g = import_frozen_graph((kFixtures / GetParam() / "frozen.pb").string());
  for (const auto& n : g.nodes) {
    EXPECT_NE(n.op, "Shape") << n.name;
    EXPECT_NE(n.op, "StridedSlice") << n.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TfFixture,
                         ::testing::Values("convnet_nhwc", "convnet_nhwc_resource", "convnet_nchw"));

TEST(TfImport, NhwcGraphsBecomeNchwWithTransposesOnlyAtTheBoundary) {
  const ir::Graph g = import_frozen_graph((kFixtures / "convnet_nhwc" / "frozen.pb").string());
  int transposes = 0;
  for (const auto& n : g.nodes) transposes += n.op == "Transpose";
  EXPECT_LE(transposes, 2) << ir::dump(g);
}

TEST(TfImport, LoaderDetectsBothFormats) {
  EXPECT_EQ(detect_model_format((kFixtures / "convnet_nhwc" / "frozen.pb").string()), ModelFormat::kTfFrozenGraph);
  EXPECT_EQ(detect_model_format((kFixtures / "convnet_nhwc" / "saved_model").string()), ModelFormat::kTfSavedModel);
  const ir::Graph g = import_model((kFixtures / "convnet_nhwc" / "saved_model").string());
  EXPECT_EQ(g.outputs.size(), 2u);
}

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void expect_error_mentions(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    FAIL() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TfImportErrors, TruncatedAndCorruptGraphs) {
  const std::string bytes = read_bytes(kFixtures / "convnet_nhwc" / "frozen.pb");
  for (size_t cut : {size_t{1}, size_t{10}, bytes.size() / 3, bytes.size() - 1}) {
    EXPECT_THROW(import_graphdef_bytes(bytes.data(), cut, "cut.pb"), Error) << cut;
  }
  std::string garbage(500, '\xff');
  expect_error_mentions([&] { import_graphdef_bytes(garbage.data(), garbage.size(), "garbage.pb"); }, "garbage.pb");
  expect_error_mentions([&] { import_graphdef_bytes("", 0, "empty.pb"); }, "no nodes");
}

TEST(TfImportErrors, UnknownOpsAreAllListed) {
  // Rewrite two op names in the serialized graph to ops kiln does not know.
  std::string bytes = read_bytes(kFixtures / "convnet_nhwc" / "frozen.pb");
  auto replace_all = [&](const std::string& from, const std::string& to) {
    ASSERT_EQ(from.size(), to.size());
    for (size_t pos = bytes.find(from); pos != std::string::npos; pos = bytes.find(from, pos + 1))
      bytes.replace(pos, from.size(), to);
  };
  replace_all(std::string("\x12\x07Softmax", 9), std::string("\x12\x07Softmux", 9));
  replace_all(std::string("\x12\x04Relu", 6), std::string("\x12\x04Rulu", 6));
  try {
    import_graphdef_bytes(bytes.data(), bytes.size(), "unknown.pb");
    FAIL() << "unknown ops accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("Softmux"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Rulu"), std::string::npos) << msg;
    EXPECT_NE(msg.find("node \""), std::string::npos) << msg;
  }
}

fs::path copy_saved_model(const std::string& name) {
  const fs::path dst = fs::path(::testing::TempDir()) / ("kiln_tf_" + name);
  fs::remove_all(dst);
  fs::copy(kFixtures / "convnet_nhwc" / "saved_model", dst, fs::copy_options::recursive);
  return dst;
}

TEST(TfImportErrors, SavedModelWithMissingShard) {
  const fs::path dir = copy_saved_model("missing_shard");
  fs::remove(dir / "variables" / "variables.data-00000-of-00001");
  expect_error_mentions([&] { import_saved_model(dir.string()); }, "shard is missing");
}

TEST(TfImportErrors, SavedModelWithTruncatedShard) {
  const fs::path dir = copy_saved_model("short_shard");
  fs::resize_file(dir / "variables" / "variables.data-00000-of-00001", 100);
  expect_error_mentions([&] { import_saved_model(dir.string()); }, "past the end");
}

TEST(TfImportErrors, CorruptCheckpointIndex) {
  const fs::path dir = copy_saved_model("bad_index");
  const fs::path index = dir / "variables" / "variables.index";
  std::string bytes = read_bytes(index);
  for (size_t cut : {size_t{0}, size_t{20}, bytes.size() - 1}) {
    std::ofstream(index, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(cut));
    EXPECT_THROW(import_saved_model(dir.string()), Error) << cut;
  }
  std::string flipped = bytes;
  for (size_t i = 0; i + 48 < flipped.size(); i += 7) flipped[i] = static_cast<char>(~flipped[i]);
  std::ofstream(index, std::ios::binary | std::ios::trunc) << flipped;
  EXPECT_THROW(import_saved_model(dir.string()), Error);
}

TEST(TfImportErrors, MissingSignature) {
  expect_error_mentions([&] { import_saved_model((kFixtures / "convnet_nhwc" / "saved_model").string(), "nope"); },
                        "serving_default");
}

TEST(Checkpoint, ReadsEveryVariable) {
  const auto reader = CheckpointReader::open((kFixtures / "convnet_nhwc" / "saved_model" / "variables" / "variables").string());
  ASSERT_TRUE(reader.has("conv1/kernel"));
  const Tensor k = reader.read("conv1/kernel");
  EXPECT_EQ(k.dims(), (Dims{3, 3, 3, 8}));
  EXPECT_GT(reader.entries().size(), 10u);
}

}  // namespace
}  // namespace kiln::tf
