// Importer tests: file-level handling (bad bytes, opsets, initializers, external data,
// symbolic dims), error reporting, and constant folding of exporter shape subgraphs.
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "backends/cpu/cpu_backend.h"
#include "frontends/onnx/onnx_importer.h"
#include "onnx_model_builder.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using namespace kiln::testing;

ir::Graph import(const OnnxModelBuilder& b) {
  const std::string bytes = b.bytes();
  return onnx::import_onnx_bytes(bytes.data(), bytes.size(), "test.onnx");
}

std::string import_error(const std::string& bytes, ErrorCode* code = nullptr) {
  try {
    onnx::import_onnx_bytes(bytes.data(), bytes.size(), "model.onnx");
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return "";
}

OnnxModelBuilder relu_model(int opset) {
  OnnxModelBuilder b(opset);
  b.input("x", {1, 4}).output("y");
  b.node("Relu", {"x"}, {"y"});
  return b;
}

Tensor random_tensor(Dims dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  Tensor t(DType::kF32, std::move(dims));
  for (auto& v : t.span<float>()) v = dist(rng);
  return t;
}

TEST(OnnxImport, UnsupportedOpsAreAllListedInOneError) {
  OnnxModelBuilder b(13);
  b.input("x", {1, 4}).output("y");
  b.node("FancyOp", {"x"}, {"a"}, "first_fancy");
  b.node("Relu", {"a"}, {"b"});
  b.node("FancyOp", {"b"}, {"c"}, "second_fancy");
  b.node("OtherOp", {"c"}, {"y"}, "other");
  ErrorCode code{};
  const std::string msg = import_error(b.bytes(), &code);
  EXPECT_EQ(code, ErrorCode::kUnimplemented);
  EXPECT_NE(msg.find("model.onnx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("FancyOp (node \"first_fancy\")"), std::string::npos) << msg;
  EXPECT_NE(msg.find("OtherOp (node \"other\")"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("second_fancy"), std::string::npos) << "each op once: " << msg;
}

TEST(OnnxImport, UndefinedValuesAreNamed) {
  OnnxModelBuilder b(13);
  b.input("x", {1, 4}).output("y");
  b.node("Add", {"x", "ghost"}, {"y"}, "adder");
  const std::string msg = import_error(b.bytes());
  EXPECT_NE(msg.find("\"ghost\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("adder"), std::string::npos) << msg;
  OnnxModelBuilder c(13);
  c.input("x", {1, 4}).output("nowhere");
  c.node("Relu", {"x"}, {"y"});
  EXPECT_NE(import_error(c.bytes()).find("nowhere"), std::string::npos);
}

TEST(OnnxImport, TruncatedFileIsRejected) {
  OnnxModelBuilder b(13);
  b.input("x", {1, 4}).floats("w", {4, 4}, std::vector<float>(16, 0.5f)).output("y");
  b.node("MatMul", {"x", "w"}, {"y"});
  const std::string bytes = b.bytes();
  for (size_t keep : {bytes.size() / 2, bytes.size() - 3, size_t{5}}) {
    const std::string msg = import_error(bytes.substr(0, keep));
    EXPECT_NE(msg.find("model.onnx"), std::string::npos) << "truncated to " << keep << ": " << msg;
  }
}

TEST(OnnxImport, GarbageAndEmptyInputAreRejected) {
  std::mt19937 rng(1);
  std::string garbage(300, '\0');
  for (auto& c : garbage) c = static_cast<char>(rng());
  EXPECT_NE(import_error(garbage).find("model.onnx"), std::string::npos);
  EXPECT_NE(import_error("").find("empty"), std::string::npos);
  EXPECT_NE(import_error("this is a text file, not a model").find("model.onnx"), std::string::npos);
}

TEST(OnnxImport, OpsetsOutsideSevenToSeventeenAreRejected) {
  for (int opset : {5, 18}) {
    ErrorCode code{};
    const std::string msg = import_error(relu_model(opset).bytes(), &code);
    EXPECT_EQ(code, ErrorCode::kUnimplemented);
    EXPECT_NE(msg.find("opset " + std::to_string(opset)), std::string::npos) << msg;
  }
  for (int opset : {7, 17}) EXPECT_NO_THROW(import(relu_model(opset)));
}

TEST(OnnxImport, MissingFileIsNotFound) {
  try {
    onnx::import_onnx_file("/nonexistent/model.onnx");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.onnx"), std::string::npos);
  }
}

TEST(OnnxImport, InitializersListedAsInputsAreNotModelInputs) {
  OnnxModelBuilder b(13);
  b.input("x", {2, 3}).input("bias", {3}).floats("bias", {3}, {1, 2, 3}, /*raw=*/true).output("y");
  b.node("Add", {"x", "bias"}, {"y"});
  const ir::Graph g = import(b);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
  const Tensor x = random_tensor({2, 3}, 4);
  const auto y = cpu::run_graph(g, {x});
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[0].data<float>()[i], x.data<float>()[i] + float(i % 3 + 1));
}

TEST(OnnxImport, RawDataSizeMismatchNamesTheTensor) {
  OnnxModelBuilder b(13);
  b.input("x", {3}).output("y");
  b.floats("weights", {3}, {1, 2, 3}, true);
  b.model().mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(7);
  b.node("Add", {"x", "weights"}, {"y"});
  const std::string msg = import_error(b.bytes());
  EXPECT_NE(msg.find("weights"), std::string::npos) << msg;
  EXPECT_NE(msg.find("raw_data"), std::string::npos) << msg;
}

TEST(OnnxImport, SymbolicDimsAreDynamicAndPropagate) {
  OnnxModelBuilder b(13);
  b.input("x", {-1, 3, 8, 8}).floats("w", {4, 3, 3, 3}, std::vector<float>(108, 0.1f)).output("y");
  auto& conv = b.node("Conv", {"x", "w"}, {"c"});
  set_ints(conv, "pads", {1, 1, 1, 1});
  b.node("Relu", {"c"}, {"r"});
  b.node("GlobalAveragePool", {"r"}, {"y"});
  const ir::Graph g = import(b);
  EXPECT_EQ(g.value(g.inputs[0]).dims, (Dims{kDynamic, 3, 8, 8}));
  EXPECT_EQ(g.value(g.outputs[0]).dims, (Dims{kDynamic, 4, 1, 1}));
}

TEST(OnnxImport, ExternalDataIsReadFromTheModelFolderAndMissingFileIsAnError) {
  const fs::path dir = fs::temp_directory_path() / ("kiln_ext_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::vector<float> weights = {0.5f, -1.5f, 2.0f, 4.0f};
  {
    std::ofstream f(dir / "weights.bin", std::ios::binary);
    const float pad = 0;
    f.write(reinterpret_cast<const char*>(&pad), sizeof pad);  // offset 4
    f.write(reinterpret_cast<const char*>(weights.data()), 16);
  }
  OnnxModelBuilder b(13);
  b.input("x", {4}).output("y");
  auto* t = b.model().mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(::onnx::TensorProto::FLOAT);
  t->add_dims(4);
  t->set_data_location(::onnx::TensorProto::EXTERNAL);
  auto add_kv = [&](const char* k, const char* v) {
    auto* kv = t->add_external_data();
    kv->set_key(k);
    kv->set_value(v);
  };
  add_kv("location", "weights.bin");
  add_kv("offset", "4");
  add_kv("length", "16");
  b.node("Mul", {"x", "w"}, {"y"});
  {
    std::ofstream f(dir / "model.onnx", std::ios::binary);
    f << b.bytes();
  }
  const ir::Graph g = onnx::import_onnx_file((dir / "model.onnx").string());
  const Tensor x = Tensor::from_vector<float>({4}, {1, 2, 3, 4});
  const auto y = cpu::run_graph(g, {x});
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y[0].data<float>()[i], weights[i] * float(i + 1));

  fs::remove(dir / "weights.bin");
  try {
    onnx::import_onnx_file((dir / "model.onnx").string());
    FAIL() << "expected an error for the missing external data file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("weights.bin"), std::string::npos) << e.what();
  }
  const std::string bytes = b.bytes();  // from bytes there is no folder to read from
  EXPECT_NE(import_error(bytes).find("external data"), std::string::npos);
  fs::remove_all(dir);
}

// The exporter pattern for x.view(x.size(0), -1).
OnnxModelBuilder flatten_by_shape_model(int64_t batch) {
  OnnxModelBuilder b(13);
  b.input("x", {batch, 2, 3, 3}).ints("zero", {0}).ints("minus_one", {-1}).ints("axes0", {0}).output("y");
  b.node("Relu", {"x"}, {"r"});
  b.node("Shape", {"r"}, {"shape"});
  auto& gather = b.node("Gather", {"shape", "idx"}, {"n"});
  set_int(gather, "axis", 0);
  auto* idx = b.model().mutable_graph()->add_initializer();
  idx->set_name("idx");
  idx->set_data_type(::onnx::TensorProto::INT64);
  idx->add_int64_data(0);  // a scalar index
  b.node("Unsqueeze", {"n", "axes0"}, {"n1"});
  set_int(b.node("Concat", {"n1", "minus_one"}, {"target"}), "axis", 0);
  b.node("Reshape", {"r", "target"}, {"y"});
  return b;
}

TEST(OnnxImport, ShapeSubgraphFoldsWithDynamicBatch) {
  const ir::Graph g = import(flatten_by_shape_model(-1));
  ASSERT_EQ(g.nodes.size(), 2u) << ir::dump(g);
  const ir::Node& reshape = g.nodes[1];
  ASSERT_EQ(reshape.op, "Reshape");
  ASSERT_TRUE(g.value(reshape.inputs[1]).constant.has_value());
  EXPECT_EQ(g.value(reshape.inputs[1]).constant->to_int64s(), (std::vector<int64_t>{0, -1}));
  EXPECT_EQ(g.value(g.outputs[0]).dims, (Dims{kDynamic, 18}));
  for (int64_t batch : {1, 3}) {
    const Tensor x = random_tensor({batch, 2, 3, 3}, static_cast<uint32_t>(batch));
    const auto y = cpu::run_graph(g, {x});
    EXPECT_EQ(y[0].dims(), (Dims{batch, 18}));
    for (int64_t i = 0; i < x.numel(); ++i) EXPECT_FLOAT_EQ(y[0].data<float>()[i], std::max(0.0f, x.data<float>()[i]));
  }
}

TEST(OnnxImport, ShapeSubgraphFoldsWithStaticBatch) {
  const ir::Graph g = import(flatten_by_shape_model(2));
  ASSERT_EQ(g.nodes.size(), 2u) << ir::dump(g);
  EXPECT_EQ(g.value(g.nodes[1].inputs[1]).constant->to_int64s(), (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(g.value(g.outputs[0]).dims, (Dims{2, 18}));
}

TEST(OnnxImport, ConstantSubgraphsFoldAndDeadNodesGo) {
  OnnxModelBuilder b(13);
  b.input("x", {2, 3}).floats("a", {3}, {1, 2, 3}).floats("b", {3}, {4, 5, 6}).output("y");
  b.node("Mul", {"a", "b"}, {"ab"});          // constant: folds to [4, 10, 18]
  b.node("Relu", {"x"}, {"unused"});          // dead
  b.node("Add", {"x", "ab"}, {"y"});
  const ir::Graph g = import(b);
  ASSERT_EQ(g.nodes.size(), 1u) << ir::dump(g);
  EXPECT_EQ(g.nodes[0].op, "Add");
  const Tensor& folded = *g.value(g.nodes[0].inputs[1]).constant;
  EXPECT_EQ(folded.to_doubles(), (std::vector<double>{4, 10, 18}));
}

TEST(OnnxImport, DequantizeOfConstantWeightsIsKept) {
  OnnxModelBuilder b(13);
  b.input("x", {1, 4}).output("y");
  auto* q = b.model().mutable_graph()->add_initializer();
  q->set_name("wq");
  q->set_data_type(::onnx::TensorProto::INT8);
  q->add_dims(4);
  q->add_dims(2);
  for (int i = 0; i < 8; ++i) q->add_int32_data(i - 4);
  b.floats("scale", {}, {0.5f});
  b.node("DequantizeLinear", {"wq", "scale"}, {"w"});
  b.node("MatMul", {"x", "w"}, {"y"});
  const ir::Graph g = import(b);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op, "DequantizeLinear");
  EXPECT_EQ(g.value(g.outputs[0]).dims, (Dims{1, 2}));
}

TEST(OnnxImport, PretrainedShuffleNetMatchesOnnxRuntime) {
  const char* dir = std::getenv("KILN_PRETRAINED_DIR");
  const std::string path = std::string(dir ? dir : "") + "/shufflenet-v2-12-qdq.onnx";
  if (!dir || !fs::exists(path)) GTEST_SKIP() << "KILN_PRETRAINED_DIR does not hold shufflenet-v2-12-qdq.onnx";
  const ir::Graph g = onnx::import_onnx_file(path);
  EXPECT_EQ(g.value(g.outputs[0]).dims, (Dims{1, 1000}));
  for (const auto& n : g.nodes) EXPECT_NE(n.op, "Shape") << "shape computations should fold";
  // Deterministic input; expected logits from ONNX Runtime 1.32 (CPU) on the same input.
  Tensor x(DType::kF32, {1, 3, 224, 224});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(std::sin(i * 0.001) * 1.5);
  const auto y = cpu::run_graph(g, {x});
  ASSERT_EQ(y[0].dims(), (Dims{1, 1000}));
  const float* logits = y[0].data<float>();
  const int top1 = static_cast<int>(std::max_element(logits, logits + 1000) - logits);
  EXPECT_EQ(top1, 905);
  // Quantization rounding may differ by a step between implementations.
  EXPECT_NEAR(logits[905], 10.0621f, 0.3f);
  EXPECT_NEAR(logits[811], 7.7506f, 0.3f);
  EXPECT_NEAR(logits[0], -1.1315f, 0.3f);
  EXPECT_NEAR(logits[2], -5.8166f, 0.3f);
}

}  // namespace
}  // namespace kiln
