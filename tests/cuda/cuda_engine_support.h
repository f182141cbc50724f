// Helpers for the CUDA engine tests: a GPU check, seeded inputs, small graphs and the
// comparison with the CPU backend (the oracle).
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/cuda/cuda_backend.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"

namespace kiln::cuda_test {

#define KILN_REQUIRE_GPU() \
  if (::kiln::cuda::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device"

inline Tensor random_tensor(Dims dims, uint32_t seed, float scale = 1.0f) {
  Tensor t(DType::kF32, std::move(dims));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

// ||a - b|| / ||b||
inline double relative_l2(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  auto x = a.span<float>();
  auto y = b.span<float>();
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) return INFINITY;
    num += (x[i] - y[i]) * (x[i] - y[i]);
    den += double(y[i]) * y[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

inline double tolerance(Precision p) {
  switch (p) {
    case Precision::kNative:
    case Precision::kFP32: return 1e-5;
    case Precision::kTF32: return 3e-3;
    default: return 1e-2;
  }
}

inline const std::vector<Precision>& gpu_precisions() {
  static const std::vector<Precision> all = {Precision::kNative, Precision::kFP32, Precision::kTF32,
                                             Precision::kFP16, Precision::kBF16};
  return all;
}

// Builds graphs node by node: x = b.conv(x, ...), with seeded weights.
class GraphBuilder {
 public:
  explicit GraphBuilder(Dims input_dims) {
    input_dims[0] = kDynamic;
    x_ = g_.add_value("x", DType::kF32, input_dims);
    g_.inputs = {x_};
  }
  int input() const { return x_; }
  int constant(Dims dims, float scale) { return g_.add_constant(fmt::format("c{}", n_++), random_tensor(dims, seed_++, scale)); }
  int ints(std::vector<int64_t> values) {
    const int64_t n = static_cast<int64_t>(values.size());
    return g_.add_constant(fmt::format("i{}", n_++), Tensor::from_vector<int64_t>({n}, values));
  }
  // A node with several outputs (Split).
  std::vector<int> multi_node(const std::string& op, std::vector<int> inputs, int n_outputs, ir::Attributes attrs = {}) {
    ir::Node n;
    n.name = fmt::format("{}_{}", op, n_++);
    n.op = op;
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    for (int i = 0; i < n_outputs; ++i) n.outputs.push_back(g_.add_value(fmt::format("{}_out{}", n.name, i)));
    std::vector<int> outs = n.outputs;
    g_.add_node(std::move(n));
    return outs;
  }
  int node(const std::string& op, std::vector<int> inputs, ir::Attributes attrs = {}) {
    ir::Node n;
    n.name = fmt::format("{}_{}", op, n_++);
    n.op = op;
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    const int out = g_.add_value(n.name + "_out");
    n.outputs = {out};
    g_.add_node(std::move(n));
    return out;
  }
  int conv(int x, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t pad, bool bias = true) {
    ir::Attributes a;
    a.set("kernel_shape", std::vector<int64_t>{k, k});
    a.set("strides", std::vector<int64_t>{stride, stride});
    a.set("pads", std::vector<int64_t>{pad, pad, pad, pad});
    const float scale = 1.0f / std::sqrt(static_cast<float>(cin * k * k));
    std::vector<int> in = {x, constant({cout, cin, k, k}, scale)};
    if (bias) in.push_back(constant({cout}, 0.1f));
    return node("Conv", in, a);
  }
  ir::Graph finish(std::vector<int> outputs) {
    g_.outputs = std::move(outputs);
    ir::infer_shapes(g_);
    return g_;
  }

 private:
  ir::Graph g_;
  int x_;
  int n_ = 0;
  uint32_t seed_ = 1234;
};

inline std::unique_ptr<Engine> build_gpu(const ir::Graph& g, Precision p, int max_batch) {
  BuildOptions o;
  o.device = "cuda:0";
  o.precision = p;
  o.max_batch_size = max_batch;
  return cuda::make_cuda_backend(0)->build(g, o);
}

inline std::vector<Tensor> run_gpu(Engine& engine, const std::vector<Tensor>& inputs, int times = 1) {
  auto ctx = engine.create_context();
  std::vector<Tensor> out;
  for (int i = 0; i < times; ++i) {  // the 2nd and 3rd runs capture and replay a CUDA graph
    Status st = ctx->run(inputs, &out);
    EXPECT_TRUE(st.ok()) << st.message();
    if (!st.ok()) return {};
  }
  return out;
}

}  // namespace kiln::cuda_test
