// ONNX backend node tests (Debian's libonnx-testdata): every model is imported, run on
// the CPU backend and compared with the expected outputs. Tests listed in skip.txt (each
// with a reason) are reported as skipped; the last line printed gives the totals.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include <gtest/gtest.h>

#include "backends/cpu/cpu_backend.h"
#include "frontends/onnx/onnx_importer.h"
#include "frontends/onnx/onnx_tensor.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

std::string node_test_root() {
  const char* env = std::getenv("KILN_ONNX_NODE_TESTS");
  return env ? env : "/usr/share/libonnx-testdata/data/node";
}

// skip.txt: one test per line, "test_name  reason..."; '#' starts a comment line.
const std::map<std::string, std::string>& skip_list() {
  static const std::map<std::string, std::string> skips = [] {
    std::map<std::string, std::string> m;
    std::ifstream f(std::string(KILN_SOURCE_DIR) + "/tests/onnx_node/skip.txt");
    std::string line;
    while (std::getline(f, line)) {
      if (line.empty() || line[0] == '#') continue;
      const size_t space = line.find_first_of(" \t");
      const std::string name = line.substr(0, space);
      std::string reason = space == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", space));
      m[name] = reason.empty() ? "no reason given" : reason;
    }
    return m;
  }();
  return skips;
}

std::vector<std::string> test_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(node_test_root(), ec))
    if (fs::exists(entry.path() / "model.onnx")) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  if (names.empty()) names.push_back("no_node_tests_found");
  return names;
}

Tensor read_tensor_pb(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ::onnx::TensorProto proto;
  KILN_CHECK(proto.ParseFromString(bytes), "{}: not a TensorProto", path.string());
  return onnx::tensor_from_onnx(proto, path.parent_path().string());
}

std::vector<Tensor> read_set(const fs::path& dir, const std::string& prefix) {
  std::vector<Tensor> tensors;
  for (int i = 0;; ++i) {
    const fs::path p = dir / (prefix + "_" + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    tensors.push_back(read_tensor_pb(p));
  }
  return tensors;
}

// Per-dtype tolerances (as ONNX Runtime's test harness uses).
std::pair<double, double> tolerance(DType t) {
  switch (t) {
    case DType::kF16: return {2.5e-3, 1e-3};
    case DType::kBF16: return {0.02, 0.01};
    case DType::kF32:
    case DType::kF64: return {1e-5, 1e-4};
    default: return {0, 0};
  }
}

std::string compare(const Tensor& got, const Tensor& want, size_t index) {
  if (got.dtype() != want.dtype())
    return fmt::format("output {}: dtype {} but expected {}", index, dtype_name(got.dtype()), dtype_name(want.dtype()));
  if (got.dims() != want.dims())
    return fmt::format("output {}: shape {} but expected {}", index, dims_to_string(got.dims()),
                       dims_to_string(want.dims()));
  const auto g = got.to_doubles(), w = want.to_doubles();
  const auto [abs_tol, rel_tol] = tolerance(want.dtype());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const bool both_nan = std::isnan(g[i]) && std::isnan(w[i]);
    const bool ok = both_nan || g[i] == w[i] || std::abs(g[i] - w[i]) <= abs_tol + rel_tol * std::abs(w[i]);
    if (!ok && bad++ == 0) first = i;
  }
  if (bad == 0) return "";
  return fmt::format("output {}: {} of {} values differ; first at {}: got {} expected {}", index, bad, w.size(), first,
                     g[first], w[first]);
}

struct Totals {
  int passed = 0, failed = 0, skipped = 0;
};
Totals& totals() {
  static Totals t;
  return t;
}

class OnnxNodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxNodeTest, MatchesExpectedOutputs) {
  const std::string name = GetParam();
  if (name == "no_node_tests_found") {
    ++totals().skipped;
    GTEST_SKIP() << "no ONNX node tests under " << node_test_root() << " (install libonnx-testdata)";
  }
  auto skip = skip_list().find(name);
  if (skip != skip_list().end()) {
    ++totals().skipped;
    GTEST_SKIP() << skip->second;
  }
  const fs::path dir = fs::path(node_test_root()) / name;
  std::string failure;
  try {
    const ir::Graph graph = onnx::import_onnx_file((dir / "model.onnx").string());
    int sets = 0;
    for (int s = 0; fs::exists(dir / ("test_data_set_" + std::to_string(s))); ++s, ++sets) {
      const fs::path set = dir / ("test_data_set_" + std::to_string(s));
      const auto inputs = read_set(set, "input");
      const auto expected = read_set(set, "output");
      const auto outputs = cpu::run_graph(graph, inputs);
      if (outputs.size() != expected.size()) {
        failure = fmt::format("set {}: {} outputs, expected {}", s, outputs.size(), expected.size());
        break;
      }
      for (size_t i = 0; i < outputs.size() && failure.empty(); ++i) {
        const std::string diff = compare(outputs[i], expected[i], i);
        if (!diff.empty()) failure = fmt::format("set {}: {}", s, diff);
      }
      if (!failure.empty()) break;
    }
    if (failure.empty() && sets == 0) failure = "no test_data_set_* folders";
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (failure.empty()) {
    ++totals().passed;
  } else {
    ++totals().failed;
    ADD_FAILURE() << name << ": " << failure;
  }
}

INSTANTIATE_TEST_SUITE_P(Node, OnnxNodeTest, ::testing::ValuesIn(test_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

class TotalsPrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    const Totals& t = totals();
    std::printf("onnx node tests: %d passed, %d failed, %d skipped\n", t.passed, t.failed, t.skipped);
  }
};
const auto* const kTotalsPrinter = ::testing::AddGlobalTestEnvironment(new TotalsPrinter);

}  // namespace
}  // namespace kiln
