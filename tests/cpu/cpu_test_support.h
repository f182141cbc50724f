// Shared pieces of the CPU kernel tests: seeded random tensors, node construction,
// element-wise comparison with per-dtype tolerances, and index helpers for the
// straightforward loop references the tests compare against.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/kernels.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace kiln::cpu::testing {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline Tensor random_tensor(Dims dims, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  const size_t n = static_cast<size_t>(num_elements(dims));
  return Tensor::from_vector<float>(std::move(dims), random_floats(n, seed, lo, hi));
}

template <typename T>
Tensor random_ints(Dims dims, uint32_t seed, int lo, int hi) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<T> v(static_cast<size_t>(num_elements(dims)));
  for (T& x : v) x = static_cast<T>(dist(rng));
  return Tensor::from_vector<T>(std::move(dims), v);
}

inline ir::Node make_node(const std::string& op, ir::Attributes attrs = {}, int outputs = 1) {
  ir::Node n;
  n.name = "test_" + op;
  n.op = op;
  n.attrs = std::move(attrs);
  for (int i = 0; i < outputs; ++i) n.outputs.push_back(i);
  return n;
}

using Ints = std::vector<int64_t>;

inline ir::Attributes attrs(std::initializer_list<std::pair<std::string, ir::AttributeValue>> pairs) {
  ir::Attributes a;
  for (const auto& [name, value] : pairs) a.set(name, value);
  return a;
}

inline std::vector<Tensor> run(const ir::Node& node, const std::vector<const Tensor*>& inputs) {
  return run_node(node, inputs);
}

inline Tensor run1(const ir::Node& node, const std::vector<const Tensor*>& inputs) {
  return run_node(node, inputs).at(0);
}

inline Tensor i64s(Dims dims, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(dims), v); }
inline Tensor i64s(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector<int64_t>({n}, v);
}

// Per-dtype tolerances (absolute and relative), as in ONNX Runtime's test harness.
struct Tolerance {
  double abs, rel;
};
inline Tolerance tolerance_for(DType t) {
  switch (t) {
    case DType::kF16: return {2.5e-3, 1e-3};
    case DType::kBF16: return {0.02, 0.01};
    case DType::kF64: return {1e-10, 1e-10};
    default: return {1e-5, 1e-4};
  }
}

// Compares actual against expected doubles, naming the first mismatching index.
inline void expect_close(const Tensor& actual, const std::vector<double>& expected, Tolerance tol,
                         const std::string& what = "") {
  ASSERT_EQ(static_cast<size_t>(actual.numel()), expected.size()) << what << " " << actual.describe();
  const std::vector<double> got = actual.to_doubles();
  int reported = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double err = std::abs(got[i] - expected[i]);
    if (err > tol.abs + tol.rel * std::abs(expected[i]) && reported++ < 5)
      ADD_FAILURE() << what << " element " << i << ": got " << got[i] << " expected " << expected[i];
  }
}
inline void expect_close(const Tensor& actual, const std::vector<double>& expected, const std::string& what = "") {
  expect_close(actual, expected, tolerance_for(actual.dtype()), what);
}
inline void expect_close(const Tensor& actual, const Tensor& expected, const std::string& what = "") {
  EXPECT_EQ(actual.dims(), expected.dims()) << what;
  expect_close(actual, expected.to_doubles(), what);
}

// Index into a tensor of `dims` broadcast to the output multi-index `out_index`.
inline int64_t broadcast_offset(const std::vector<int64_t>& out_index, const Dims& dims) {
  const size_t lead = out_index.size() - dims.size();
  int64_t offset = 0;
  for (size_t d = 0; d < dims.size(); ++d) offset = offset * dims[d] + (dims[d] == 1 ? 0 : out_index[lead + d]);
  return offset;
}

// Multi-index of flat position i in row-major `dims`.
inline std::vector<int64_t> unravel(int64_t i, const Dims& dims) {
  std::vector<int64_t> index(dims.size());
  for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
    index[d] = i % dims[d];
    i /= dims[d];
  }
  return index;
}

// Expects run_node to throw kiln::Error whose message contains `fragment`.
inline void expect_error(const ir::Node& node, const std::vector<const Tensor*>& inputs, const std::string& fragment) {
  try {
    run_node(node, inputs);
    ADD_FAILURE() << "expected an error containing \"" << fragment << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(node.name), std::string::npos) << e.what();
  }
}

}  // namespace kiln::cpu::testing
