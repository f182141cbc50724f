// A ResNet-50-shaped graph (v1.5 bottlenecks, 224x224, 1000 classes, synthetic weights)
// run through the CPU backend: the fused form (kiln.FusedConv with residual and relu,
// as the passes produce it) must match the plain Conv + Add + Relu form, and its batch-1
// latency is printed, so the CPU reference stays fast enough to serve as an oracle.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "backends/cpu/cpu_backend.h"
#include "cpu_test_support.h"

namespace kiln::cpu::testing {
namespace {

class ResNetBuilder {
 public:
  explicit ResNetBuilder(bool fused) : fused_(fused) {}

  ir::Graph build(int64_t batch) {
    const int input = graph_.add_value("image", DType::kF32, {batch, 3, 224, 224});
    graph_.inputs.push_back(input);
    int x = conv(input, 3, 64, 7, 2, 3, true);
    x = node("MaxPool", {x}, attrs({{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}));
    int64_t channels = 64;
    const int64_t blocks[] = {3, 4, 6, 3};
    for (int stage = 0; stage < 4; ++stage) {
      const int64_t width = 64 << stage;
      for (int64_t b = 0; b < blocks[stage]; ++b) {
        const int64_t stride = stage > 0 && b == 0 ? 2 : 1;
        x = bottleneck(x, channels, width, stride);
        channels = width * 4;
      }
    }
    x = node("GlobalAveragePool", {x});
    x = node("Flatten", {x});
    const int w = weight({1000, channels}, channels);
    const int bias = weight({1000}, channels);
    x = node("Gemm", {x, w, bias}, attrs({{"transB", int64_t{1}}}));
    graph_.outputs.push_back(x);
    return graph_;
  }

 private:
  int weight(Dims dims, int64_t fan_in) {
    const float bound = std::sqrt(3.f / static_cast<float>(fan_in));
    const uint32_t seed = seed_++;
    return graph_.add_constant("w" + std::to_string(seed), random_tensor(std::move(dims), seed, -bound, bound));
  }

  int node(const std::string& op, std::vector<int> inputs, ir::Attributes a = {}) {
    ir::Node n;
    n.name = op + std::to_string(graph_.nodes.size());
    n.op = op;
    n.domain = op.rfind("Fused", 0) == 0 ? "kiln" : "";
    n.inputs = std::move(inputs);
    n.attrs = std::move(a);
    n.outputs = {graph_.add_value(n.name + "_out")};
    graph_.add_node(n);
    return n.outputs[0];
  }

  // conv + bias (+ residual) (+ relu), fused or as separate nodes.
  int conv(int x, int64_t in_c, int64_t out_c, int64_t k, int64_t stride, int64_t pad, bool relu,
           int residual = ir::kNoValue) {
    const int w = weight({out_c, in_c, k, k}, in_c * k * k);
    const int b = weight({out_c}, in_c * k * k);
    ir::Attributes a = attrs({{"kernel_shape", Ints{k, k}}, {"strides", Ints{stride, stride}},
                              {"pads", Ints{pad, pad, pad, pad}}});
    if (fused_) {
      a.set("activation", std::string(relu ? "relu" : "none"));
      std::vector<int> inputs = {x, w, b};
      if (residual != ir::kNoValue) inputs.push_back(residual);
      return node("FusedConv", inputs, a);
    }
    int y = node("Conv", {x, w, b}, a);
    if (residual != ir::kNoValue) y = node("Add", {y, residual});
    return relu ? node("Relu", {y}) : y;
  }

  int bottleneck(int x, int64_t in_c, int64_t width, int64_t stride) {
    const int64_t out_c = width * 4;
    const int shortcut = stride != 1 || in_c != out_c ? conv(x, in_c, out_c, 1, stride, 0, false) : x;
    int y = conv(x, in_c, width, 1, 1, 0, true);
    y = conv(y, width, width, 3, stride, 1, true);
    return conv(y, width, out_c, 1, 1, 0, true, shortcut);
  }

  bool fused_;
  ir::Graph graph_;
  uint32_t seed_ = 1000;
};

double median_ms(const ir::Graph& g, const Tensor& image, int runs, Tensor* out) {
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    *out = run_graph(g, {image}).at(0);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

TEST(ResNet50Shaped, FusedMatchesUnfusedAndIsFast) {
  const ir::Graph fused = ResNetBuilder(true).build(1);
  const ir::Graph plain = ResNetBuilder(false).build(1);
  const Tensor image = random_tensor({1, 3, 224, 224}, 7, -2.f, 2.f);
  Tensor y_fused, y_plain;
  median_ms(fused, image, 1, &y_fused);  // warm-up: BLAS thread start, page faults
  const double fused_ms = median_ms(fused, image, 5, &y_fused);
  const double plain_ms = median_ms(plain, image, 3, &y_plain);
  std::printf("[ resnet50 ] batch 1, 224x224, f32: fused graph %.1f ms, unfused graph %.1f ms (median)\n", fused_ms,
              plain_ms);
  ASSERT_EQ(y_fused.dims(), (Dims{1, 1000}));
  double scale = 0;
  for (double v : y_plain.to_doubles()) scale = std::max(scale, std::abs(v));
  ASSERT_GT(scale, 0.0);
  expect_close(y_fused, y_plain.to_doubles(), Tolerance{1e-5 * scale, 1e-4}, "fused vs unfused");
  // Loose bound: a loaded CI machine must still be far from pathological.
  EXPECT_LT(fused_ms, 5000.0);
}

}  // namespace
}  // namespace kiln::cpu::testing
