// Small hand-built graphs for pass and plan tests, with seeded random weights and inputs,
// and a comparison of a graph's outputs before and after a rewrite on the CPU backend.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "ir/graph.h"

namespace kiln::testing {

inline Tensor random_tensor(Dims dims, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(DType::kF32, std::move(dims));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

class GraphBuilder {
 public:
  explicit GraphBuilder(uint32_t seed = 1234) : rng_(seed) { g.name = "test"; }

  int input(const std::string& name, Dims dims) {
    const int v = g.add_value(name, DType::kF32, std::move(dims));
    g.inputs.push_back(v);
    return v;
  }
  int weight(const std::string& name, Dims dims, float lo = -1.0f, float hi = 1.0f) {
    return g.add_constant(name, random_tensor(std::move(dims), rng_, lo, hi));
  }
  int constant(const std::string& name, Tensor t) { return g.add_constant(name, std::move(t)); }
  // Adds a node with one f32 output of the given dims; returns the output value.
  int node(const std::string& op, std::vector<int> inputs, Dims out_dims, ir::Attributes attrs = {},
           const std::string& name = "") {
    const std::string node_name = name.empty() ? g.unique_name(op) : name;
    const int out = g.add_value(node_name + "_out", DType::kF32, std::move(out_dims));
    g.add_node({node_name, op, "", std::move(inputs), {out}, std::move(attrs)});
    return out;
  }
  void output(int v) { g.outputs.push_back(v); }

  // Random inputs for every graph input, from the builder's seeded generator.
  // A dynamic (batch) dimension becomes `batch`.
  std::vector<Tensor> random_inputs(int64_t batch = 2) {
    std::vector<Tensor> inputs;
    for (int i : g.inputs) {
      Dims dims = g.value(i).dims;
      for (int64_t& d : dims) if (d == kDynamic) d = batch;
      inputs.push_back(random_tensor(dims, rng_));
    }
    return inputs;
  }

  ir::Graph g;

 private:
  std::mt19937 rng_;
};

inline ir::Attributes conv_attrs(std::vector<int64_t> pads = {1, 1, 1, 1}, std::vector<int64_t> strides = {1, 1},
                                 int64_t group = 1) {
  ir::Attributes a;
  a.set("pads", std::move(pads));
  a.set("strides", std::move(strides));
  a.set("group", group);
  return a;
}

// A small ResNet-shaped classifier with a dynamic batch: conv-bn-relu stem, max pool, a
// residual block (conv-bn-relu, conv-bn, identity shortcut, add, relu), global average
// pool, flatten, dropout, fully connected layer and softmax.
inline ir::Graph mini_resnet(uint32_t seed = 99) {
  GraphBuilder b(seed);
  const int64_t N = kDynamic;
  auto bn = [&](int x, int64_t c, const std::string& name) {
    return b.node("BatchNormalization",
                  {x, b.weight(name + "_scale", {c}, 0.5f, 1.5f), b.weight(name + "_shift", {c}),
                   b.weight(name + "_mean", {c}), b.weight(name + "_var", {c}, 0.5f, 1.5f)},
                  b.g.value(x).dims, {}, name);
  };
  const int x = b.input("image", {N, 3, 16, 16});
  int h = b.node("Conv", {x, b.weight("stem_w", {8, 3, 3, 3}, -0.5f, 0.5f)}, {N, 8, 8, 8},
                 conv_attrs({1, 1, 1, 1}, {2, 2}), "stem");
  h = b.node("Relu", {bn(h, 8, "stem_bn")}, {N, 8, 8, 8});
  ir::Attributes pool;
  pool.set("kernel_shape", std::vector<int64_t>{3, 3});
  pool.set("strides", std::vector<int64_t>{2, 2});
  pool.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  const int p = b.node("MaxPool", {h}, {N, 8, 4, 4}, pool, "pool");
  int r = b.node("Conv", {p, b.weight("c1_w", {8, 8, 3, 3}, -0.3f, 0.3f)}, {N, 8, 4, 4}, conv_attrs(), "c1");
  r = b.node("Relu", {bn(r, 8, "c1_bn")}, {N, 8, 4, 4});
  r = b.node("Conv", {r, b.weight("c2_w", {8, 8, 3, 3}, -0.3f, 0.3f)}, {N, 8, 4, 4}, conv_attrs(), "c2");
  r = bn(r, 8, "c2_bn");
  r = b.node("Relu", {b.node("Add", {r, p}, {N, 8, 4, 4}, {}, "residual")}, {N, 8, 4, 4});
  const int gap = b.node("GlobalAveragePool", {r}, {N, 8, 1, 1}, {}, "gap");
  ir::Attributes flat;
  flat.set("axis", int64_t{1});
  const int f = b.node("Dropout", {b.node("Flatten", {gap}, {N, 8}, flat, "flatten")}, {N, 8}, {}, "dropout");
  ir::Attributes gemm;
  gemm.set("transB", int64_t{1});
  const int logits = b.node("Gemm", {f, b.weight("fc_w", {10, 8}), b.weight("fc_b", {10})}, {N, 10}, gemm, "fc");
  ir::Attributes softmax;
  softmax.set("axis", int64_t{-1});
  b.output(b.node("Softmax", {logits}, {N, 10}, softmax, "prob"));
  b.g.name = "mini_resnet";
  return b.g;
}

inline int count_ops(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes) n += node.op == op;
  return n;
}

// Outputs of `after` match those of `before` on the same inputs (f32: abs 1e-4 + rel 1e-4).
inline void expect_same_outputs(const ir::Graph& before, const ir::Graph& after, const std::vector<Tensor>& inputs,
                                float tolerance = 1e-4f) {
  const std::vector<Tensor> expected = cpu::run_graph(before, inputs);
  const std::vector<Tensor> actual = cpu::run_graph(after, inputs);
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t k = 0; k < expected.size(); ++k) {
    ASSERT_EQ(expected[k].dims(), actual[k].dims()) << "output " << k;
    auto e = expected[k].span<float>();
    auto a = actual[k].span<float>();
    bool nonzero = false;
    for (size_t i = 0; i < e.size(); ++i) {
      nonzero = nonzero || e[i] != 0.0f;
      ASSERT_NEAR(a[i], e[i], tolerance * (1.0f + std::abs(e[i]))) << "output " << k << " element " << i;
    }
    EXPECT_TRUE(nonzero) << "output " << k << " is all zeros: the comparison would prove nothing";
  }
}

}  // namespace kiln::testing
