// Softmax, LogSoftmax, ReduceMean, BatchNormalization and LRN against direct formulas.
#include "cpu_test_support.h"

namespace kiln::cpu::testing {
namespace {

TEST(Softmax, EveryAxisMatchesFormula) {
  const Tensor x = random_tensor({2, 3, 4}, 501, -5.f, 5.f);
  const std::vector<double> v = x.to_doubles();
  for (int64_t axis : {0, 1, 2, -1}) {
    const int64_t ax = (axis + 3) % 3;
    std::vector<double> soft(v.size()), logsoft(v.size());
    for (int64_t i = 0; i < x.numel(); ++i) {
      std::vector<int64_t> idx = unravel(i, x.dims());
      double total = 0;
      for (int64_t k = 0; k < x.dim(ax); ++k) {
        idx[ax] = k;
        total += std::exp(v[(idx[0] * 3 + idx[1]) * 4 + idx[2]]);
      }
      soft[i] = std::exp(v[i]) / total;
      logsoft[i] = v[i] - std::log(total);
    }
    expect_close(run1(make_node("Softmax", attrs({{"axis", axis}})), {&x}), soft, "softmax");
    expect_close(run1(make_node("LogSoftmax", attrs({{"axis", axis}})), {&x}), logsoft, "logsoftmax");
  }
  const Tensor big = Tensor::from_vector<float>({3}, {1000.f, 1000.f, -1000.f});
  expect_close(run1(make_node("Softmax"), {&big}), std::vector<double>{0.5, 0.5, 0});
  expect_error(make_node("Softmax", attrs({{"axis", int64_t{3}}})), {&x}, "out of range");
}

TEST(ReduceMean, AxesKeepdimsAndNoop) {
  const Tensor x = random_tensor({2, 3, 4}, 502);
  const std::vector<double> v = x.to_doubles();
  // Mean over axes {0, 2}.
  std::vector<double> expected(3, 0.0);
  for (int64_t i = 0; i < x.numel(); ++i) expected[unravel(i, x.dims())[1]] += v[i] / 8.0;
  Tensor y = run1(make_node("ReduceMean", attrs({{"axes", Ints{0, -1}}})), {&x});
  EXPECT_EQ(y.dims(), (Dims{1, 3, 1}));
  expect_close(y, expected);
  y = run1(make_node("ReduceMean", attrs({{"axes", Ints{0, 2}}, {"keepdims", int64_t{0}}})), {&x});
  EXPECT_EQ(y.dims(), (Dims{3}));
  expect_close(y, expected);
  double all = 0;
  for (double d : v) all += d / 24.0;
  y = run1(make_node("ReduceMean", attrs({{"keepdims", int64_t{0}}})), {&x});
  EXPECT_EQ(y.dims(), (Dims{}));
  expect_close(y, std::vector<double>{all});
  y = run1(make_node("ReduceMean", attrs({{"noop_with_empty_axes", int64_t{1}}})), {&x});
  expect_close(y, x);
  const Tensor axes_input = i64s({1});
  EXPECT_EQ(run1(make_node("ReduceMean"), {&x, &axes_input}).dims(), (Dims{2, 1, 4}));
  expect_error(make_node("ReduceMean", attrs({{"axes", Ints{1, 1}}})), {&x}, "twice");
  expect_error(make_node("ReduceMean", attrs({{"axes", Ints{3}}})), {&x}, "out of range");
}

TEST(BatchNormalization, MatchesFormula) {
  const Tensor x = random_tensor({3, 4, 5, 2}, 503);
  const Tensor scale = random_tensor({4}, 504), bias = random_tensor({4}, 505), mean = random_tensor({4}, 506);
  const Tensor var = random_tensor({4}, 507, 0.1f, 2.f);
  const float eps = 1e-3f;
  const Tensor y = run1(make_node("BatchNormalization", attrs({{"epsilon", eps}})), {&x, &scale, &bias, &mean, &var});
  const std::vector<double> v = x.to_doubles(), s = scale.to_doubles(), b = bias.to_doubles(), m = mean.to_doubles(),
                            va = var.to_doubles();
  std::vector<double> expected;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = unravel(i, x.dims())[1];
    expected.push_back((v[i] - m[c]) / std::sqrt(va[c] + eps) * s[c] + b[c]);
  }
  expect_close(y, expected);
  const Tensor short_scale = random_tensor({3}, 508);
  expect_error(make_node("BatchNormalization"), {&x, &short_scale, &bias, &mean, &var}, "scale");
  expect_error(make_node("BatchNormalization", attrs({{"training_mode", int64_t{1}}})), {&x, &scale, &bias, &mean, &var},
               "training_mode");
}

TEST(LRN, MatchesFormula) {
  const Tensor x = random_tensor({2, 5, 3, 3}, 509);
  const int64_t size = 3;
  const double alpha = 2e-4, beta = 0.75, bias = 1.5;
  const Tensor y = run1(make_node("LRN", attrs({{"size", size}, {"alpha", static_cast<float>(alpha)},
                                                {"beta", static_cast<float>(beta)}, {"bias", static_cast<float>(bias)}})),
                        {&x});
  const std::vector<double> v = x.to_doubles();
  std::vector<double> expected;
  for (int64_t i = 0; i < x.numel(); ++i) {
    std::vector<int64_t> idx = unravel(i, x.dims());
    const int64_t c = idx[1];
    double sq = 0;
    for (int64_t k = std::max<int64_t>(0, c - 1); k <= std::min<int64_t>(4, c + 1); ++k) {
      idx[1] = k;
      const double e = v[((idx[0] * 5 + k) * 3 + idx[2]) * 3 + idx[3]];
      sq += e * e;
    }
    expected.push_back(v[i] / std::pow(bias + static_cast<double>(static_cast<float>(alpha)) / size * sq, beta));
  }
  expect_close(y, expected);
  expect_error(make_node("LRN"), {&x}, "size");
}

TEST(HandChecked, BatchNormLrnReduceMeanSoftmax) {
  // BatchNormalization: (x - 1) / sqrt(3 + 1) * 2 + 0.5 = x - 0.5 with eps 1.
  const Tensor x = Tensor::from_vector<float>({1, 1, 2}, {3, -1});
  const Tensor s = Tensor::from_vector<float>({1}, {2}), b = Tensor::from_vector<float>({1}, {0.5f});
  const Tensor m = Tensor::from_vector<float>({1}, {1}), v = Tensor::from_vector<float>({1}, {3});
  expect_close(run1(make_node("BatchNormalization", attrs({{"epsilon", 1.f}})), {&x, &s, &b, &m, &v}),
               std::vector<double>{2.5, -1.5});
  // LRN with size 1, alpha 1, beta 1, bias 0: x / (x^2) = 1 / x.
  const Tensor l = Tensor::from_vector<float>({1, 2, 1, 1}, {2, -4});
  expect_close(run1(make_node("LRN", attrs({{"size", int64_t{1}}, {"alpha", 1.f}, {"beta", 1.f}, {"bias", 0.f}})), {&l}),
               std::vector<double>{0.5, -0.25});
  // ReduceMean of [[1,2],[3,6]] over axis 1: [1.5, 4.5].
  const Tensor r = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 6});
  expect_close(run1(make_node("ReduceMean", attrs({{"axes", Ints{1}}, {"keepdims", int64_t{0}}})), {&r}),
               std::vector<double>{1.5, 4.5});
  // Softmax of [0, ln 3]: [1/4, 3/4].
  const Tensor sm = Tensor::from_vector<float>({2}, {0.f, std::log(3.f)});
  expect_close(run1(make_node("Softmax"), {&sm}), std::vector<double>{0.25, 0.75});
  expect_close(run1(make_node("LogSoftmax"), {&sm}), std::vector<double>{std::log(0.25), std::log(0.75)});
}

}  // namespace
}  // namespace kiln::cpu::testing
