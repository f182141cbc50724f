// Gemm, FusedGemm and MatMul against plain triple loops.
#include "cpu_test_support.h"

namespace kiln::cpu::testing {
namespace {

// Element (i, j) of a row-major matrix stored as rows x cols, optionally transposed.
double at(const std::vector<double>& m, int64_t cols, bool trans, int64_t i, int64_t j) {
  return trans ? m[j * cols + i] : m[i * cols + j];
}

struct GemmCase {
  int64_t m, k, n;
  bool trans_a, trans_b;
  float alpha, beta;
  Dims c_dims;  // empty: no C
};

class GemmRandom : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmRandom, MatchesLoop) {
  const GemmCase g = GetParam();
  const Tensor a = random_tensor(g.trans_a ? Dims{g.k, g.m} : Dims{g.m, g.k}, 101);
  const Tensor b = random_tensor(g.trans_b ? Dims{g.n, g.k} : Dims{g.k, g.n}, 102);
  const Tensor c = g.c_dims.empty() ? Tensor() : random_tensor(g.c_dims, 103);
  const ir::Node node = make_node("Gemm", attrs({{"transA", int64_t{g.trans_a}}, {"transB", int64_t{g.trans_b}},
                                                 {"alpha", g.alpha}, {"beta", g.beta}}));
  const Tensor y = run1(node, {&a, &b, g.c_dims.empty() ? nullptr : &c});
  const std::vector<double> ad = a.to_doubles(), bd = b.to_doubles(), cd = c.empty() ? std::vector<double>{} : c.to_doubles();
  std::vector<double> expected(static_cast<size_t>(g.m * g.n));
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < g.k; ++p) acc += at(ad, a.dim(1), g.trans_a, i, p) * at(bd, b.dim(1), g.trans_b, p, j);
      double cv = 0;
      if (!g.c_dims.empty()) cv = cd[broadcast_offset({i, j}, g.c_dims)];
      expected[i * g.n + j] = g.alpha * acc + g.beta * cv;
    }
  EXPECT_EQ(y.dims(), (Dims{g.m, g.n}));
  expect_close(y, expected, "gemm");
}

INSTANTIATE_TEST_SUITE_P(Shapes, GemmRandom,
                         ::testing::Values(GemmCase{3, 5, 7, false, false, 1.f, 1.f, {}},
                                           GemmCase{4, 9, 3, true, false, 0.5f, 2.f, {4, 3}},
                                           GemmCase{1, 64, 10, false, true, 1.f, 1.f, {10}},
                                           GemmCase{6, 7, 5, true, true, -1.5f, 0.25f, {6, 1}},
                                           GemmCase{5, 3, 4, false, false, 1.f, 3.f, {}},
                                           GemmCase{2, 2, 2, false, true, 2.f, 1.f, {1, 1}},
                                           GemmCase{3, 4, 5, false, false, 1.f, 0.5f, {}}));

TEST(Gemm, HandChecked) {
  const Tensor a = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  const Tensor b = Tensor::from_vector<float>({2, 2}, {5, 6, 7, 8});
  const Tensor c = Tensor::from_vector<float>({2}, {1, -1});
  expect_close(run1(make_node("Gemm"), {&a, &b, &c}), std::vector<double>{20, 21, 44, 49});
}

TEST(FusedGemm, ReluAndHalf) {
  const Tensor a = random_tensor({4, 6}, 111), b = random_tensor({5, 6}, 112), c = random_tensor({5}, 113);
  const ir::Node plain = make_node("Gemm", attrs({{"transB", int64_t{1}}}));
  const ir::Node fused = make_node("FusedGemm", attrs({{"transB", int64_t{1}}, {"activation", std::string("relu")}}));
  std::vector<double> expected = run1(plain, {&a, &b, &c}).to_doubles();
  for (double& v : expected) v = std::max(0.0, v);
  expect_close(run1(fused, {&a, &b, &c}), expected, "fused relu");
  const Tensor ah = a.cast(DType::kBF16), bh = b.cast(DType::kBF16), ch = c.cast(DType::kBF16);
  const Tensor yh = run1(fused, {&ah, &bh, &ch});
  EXPECT_EQ(yh.dtype(), DType::kBF16);
  expect_close(yh, expected, Tolerance{0.05, 0.02}, "bf16");
}

TEST(GemmErrors, BadShapes) {
  const Tensor a = random_tensor({3, 4}, 121), b = random_tensor({5, 6}, 122);
  expect_error(make_node("Gemm"), {&a, &b}, "inner dimensions");
  const Tensor b2 = random_tensor({4, 6}, 123), c = random_tensor({2, 6}, 124);
  expect_error(make_node("Gemm"), {&a, &b2, &c}, "does not broadcast");
  const Tensor v = random_tensor({4}, 125);
  expect_error(make_node("Gemm"), {&v, &b2}, "matrices");
}

std::vector<double> reference_matmul(const Tensor& a, const Tensor& b, Dims* out_dims) {
  Dims ad = a.dims(), bd = b.dims();
  const bool av = ad.size() == 1, bv = bd.size() == 1;
  if (av) ad.insert(ad.begin(), 1);
  if (bv) bd.push_back(1);
  const int64_t m = ad[ad.size() - 2], k = ad.back(), n = bd.back();
  const Dims ab(ad.begin(), ad.end() - 2), bb(bd.begin(), bd.end() - 2);
  const Dims batch = broadcast_dims(ab, bb);
  const std::vector<double> x = a.to_doubles(), y = b.to_doubles();
  std::vector<double> out;
  const int64_t batches = num_elements(batch);
  for (int64_t t = 0; t < batches; ++t) {
    const std::vector<int64_t> idx = unravel(t, batch);
    const int64_t oa = broadcast_offset(idx, ab), ob = broadcast_offset(idx, bb);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += x[(oa * m + i) * k + p] * y[(ob * k + p) * n + j];
        out.push_back(acc);
      }
  }
  *out_dims = batch;
  if (!av) out_dims->push_back(m);
  if (!bv) out_dims->push_back(n);
  return out;
}

TEST(MatMul, BatchedBroadcastAndVectors) {
  const std::vector<std::pair<Dims, Dims>> cases = {
      {{3, 4}, {4, 5}},          {{2, 3, 4}, {4, 5}},       {{2, 3, 4}, {2, 4, 5}}, {{2, 1, 3, 4}, {5, 4, 2}},
      {{4}, {4, 5}},             {{3, 4}, {4}},             {{4}, {4}},             {{2, 3, 4}, {4}},
      {{7}, {2, 7, 3}},          {{1, 3, 4}, {3, 4, 6}},   {{3, 1, 2, 5}, {1, 4, 5, 3}}};
  uint32_t seed = 130;
  for (const auto& [ad, bd] : cases) {
    const Tensor a = random_tensor(ad, seed++), b = random_tensor(bd, seed++);
    Dims expected_dims;
    const std::vector<double> expected = reference_matmul(a, b, &expected_dims);
    const Tensor y = run1(make_node("MatMul"), {&a, &b});
    EXPECT_EQ(y.dims(), expected_dims) << dims_to_string(ad) << " x " << dims_to_string(bd);
    expect_close(y, expected, dims_to_string(ad) + " x " + dims_to_string(bd));
  }
}

TEST(MatMul, IntegerAndDouble) {
  const Tensor a = random_ints<int32_t>({2, 3, 4}, 141, -5, 5), b = random_ints<int32_t>({4, 3}, 142, -5, 5);
  Dims dims;
  const std::vector<double> expected = reference_matmul(a, b, &dims);
  const Tensor y = run1(make_node("MatMul"), {&a, &b});
  EXPECT_EQ(y.dtype(), DType::kI32);
  expect_close(y, expected, Tolerance{0, 0}, "int32");
  const Tensor ad = random_tensor({3, 5}, 143).cast(DType::kF64), bd = random_tensor({5, 2}, 144).cast(DType::kF64);
  const std::vector<double> e2 = reference_matmul(ad, bd, &dims);
  expect_close(run1(make_node("MatMul"), {&ad, &bd}), e2, "f64");
}

TEST(MatMulErrors, Mismatch) {
  const Tensor a = random_tensor({2, 3}, 151), b = random_tensor({4, 2}, 152);
  expect_error(make_node("MatMul"), {&a, &b}, "inner dimensions");
  const Tensor c = random_tensor({2, 2, 3}, 153), d = random_tensor({3, 3, 2}, 154);
  expect_error(make_node("MatMul"), {&c, &d}, "do not broadcast");
  const Tensor s = Tensor::scalar<float>(1.f);
  expect_error(make_node("MatMul"), {&s, &b}, "rank >= 1");
}

}  // namespace
}  // namespace kiln::cpu::testing
