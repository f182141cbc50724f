// Conv and FusedConv against a direct 2-D convolution loop, over odd channel counts,
// strides, pads, dilations, groups (incl. depthwise), batch 1 and 3, 1-D, f64 and f16.
#include "cpu_test_support.h"

namespace kiln::cpu::testing {
namespace {

struct ConvCase {
  int64_t n, c, h, w, m, kh, kw, group;
  Ints strides, pads, dilations;
};

// Y[n][m][oh][ow] = B[m] + sum_{c,ki,kj} X[n][g*Cg+c][oh*s-p+ki*d][ow*s-p+kj*d] * W[m][c][ki][kj]
std::vector<double> reference_conv(const ConvCase& k, const std::vector<double>& x, const std::vector<double>& w,
                                   const std::vector<double>* b, int64_t oh, int64_t ow) {
  const int64_t cg = k.c / k.group, mg = k.m / k.group;
  std::vector<double> y(static_cast<size_t>(k.n * k.m * oh * ow));
  for (int64_t n = 0; n < k.n; ++n)
    for (int64_t m = 0; m < k.m; ++m)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = b ? (*b)[m] : 0.0;
          const int64_t g = m / mg;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t ki = 0; ki < k.kh; ++ki)
              for (int64_t kj = 0; kj < k.kw; ++kj) {
                const int64_t h = i * k.strides[0] - k.pads[0] + ki * k.dilations[0];
                const int64_t ww = j * k.strides[1] - k.pads[1] + kj * k.dilations[1];
                if (h < 0 || h >= k.h || ww < 0 || ww >= k.w) continue;
                acc += x[((n * k.c + g * cg + c) * k.h + h) * k.w + ww] * w[((m * cg + c) * k.kh + ki) * k.kw + kj];
              }
          y[((n * k.m + m) * oh + i) * ow + j] = acc;
        }
  return y;
}

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d) {
  return (in + p0 + p1 - (k - 1) * d - 1) / s + 1;
}

class ConvRandom : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvRandom, MatchesDirectLoop) {
  const ConvCase k = GetParam();
  const Tensor x = random_tensor({k.n, k.c, k.h, k.w}, 11);
  const Tensor w = random_tensor({k.m, k.c / k.group, k.kh, k.kw}, 12);
  const Tensor b = random_tensor({k.m}, 13);
  const ir::Node node = make_node("Conv", attrs({{"strides", k.strides}, {"pads", k.pads},
                                                 {"dilations", k.dilations}, {"group", k.group}}));
  const Tensor y = run1(node, {&x, &w, &b});
  const int64_t oh = out_size(k.h, k.kh, k.strides[0], k.pads[0], k.pads[2], k.dilations[0]);
  const int64_t ow = out_size(k.w, k.kw, k.strides[1], k.pads[1], k.pads[3], k.dilations[1]);
  EXPECT_EQ(y.dims(), (Dims{k.n, k.m, oh, ow}));
  const std::vector<double> bd = b.to_doubles();
  expect_close(y, reference_conv(k, x.to_doubles(), w.to_doubles(), &bd, oh, ow), "conv");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvRandom,
    ::testing::Values(ConvCase{1, 3, 7, 9, 5, 3, 3, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}},       // odd channels, same pad
                      ConvCase{3, 5, 11, 8, 7, 3, 3, 1, {2, 2}, {1, 1, 1, 1}, {1, 1}},      // batch 3, stride 2
                      ConvCase{1, 4, 9, 9, 6, 3, 2, 2, {1, 2}, {2, 1, 0, 1}, {2, 1}},       // groups, dilation, asym pads
                      ConvCase{2, 6, 8, 7, 6, 3, 3, 6, {1, 1}, {1, 1, 1, 1}, {1, 1}},       // depthwise
                      ConvCase{1, 4, 10, 10, 8, 3, 3, 4, {2, 2}, {1, 1, 1, 1}, {2, 2}},     // depthwise x2 multiplier
                      ConvCase{3, 16, 6, 5, 9, 1, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},      // 1x1 direct GEMM
                      ConvCase{1, 8, 7, 7, 4, 1, 1, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}},       // 1x1 stride 2
                      ConvCase{1, 3, 15, 13, 4, 7, 7, 1, {2, 2}, {3, 3, 3, 3}, {1, 1}},     // stem-like 7x7
                      ConvCase{2, 9, 6, 6, 6, 2, 2, 3, {1, 1}, {0, 0, 1, 1}, {1, 1}}));     // grouped, even kernel

TEST(Conv, HandCheckedTwoByTwo) {
  // X = [[1,2,3],[4,5,6],[7,8,9]], W = [[1,0],[0,-1]]: each output is x[i][j] - x[i+1][j+1] = -4.
  const Tensor x = Tensor::from_vector<float>({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor w = Tensor::from_vector<float>({1, 1, 2, 2}, {1, 0, 0, -1});
  const Tensor y = run1(make_node("Conv"), {&x, &w});
  EXPECT_EQ(y.dims(), (Dims{1, 1, 2, 2}));
  expect_close(y, std::vector<double>{-4, -4, -4, -4});
}

TEST(Conv, OneDimensional) {
  const Tensor x = random_tensor({2, 3, 17}, 21);
  const Tensor w = random_tensor({4, 3, 5}, 22);
  const Tensor y = run1(make_node("Conv", attrs({{"strides", Ints{2}}, {"pads", Ints{2, 1}}, {"dilations", Ints{1}}})),
                        {&x, &w});
  const ConvCase k{2, 3, 1, 17, 4, 1, 5, 1, {1, 2}, {0, 2, 0, 1}, {1, 1}};
  const int64_t ow = out_size(17, 5, 2, 2, 1, 1);
  EXPECT_EQ(y.dims(), (Dims{2, 4, ow}));
  expect_close(y, reference_conv(k, x.to_doubles(), w.to_doubles(), nullptr, 1, ow), "conv1d");
}

TEST(Conv, ThreeDimensionalGrouped) {
  const Dims xd = {2, 4, 5, 6, 4};
  const Tensor x = random_tensor(xd, 25), w = random_tensor({6, 2, 2, 3, 2}, 26), b = random_tensor({6}, 27);
  const Ints st = {2, 1, 1}, pb = {1, 1, 0}, pe = {0, 1, 1}, dil = {1, 2, 1};
  const ir::Node node = make_node("Conv", attrs({{"strides", st}, {"pads", Ints{1, 1, 0, 0, 1, 1}},
                                                 {"dilations", dil}, {"group", int64_t{2}}}));
  const Tensor y = run1(node, {&x, &w, &b});
  const Ints k = {2, 3, 2};
  Dims od = {2, 6};
  for (int d = 0; d < 3; ++d) od.push_back((xd[2 + d] + pb[d] + pe[d] - (k[d] - 1) * dil[d] - 1) / st[d] + 1);
  ASSERT_EQ(y.dims(), od);
  const std::vector<double> xv = x.to_doubles(), wv = w.to_doubles(), bv = b.to_doubles();
  std::vector<double> expected;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t m = 0; m < 6; ++m)
      for (int64_t i = 0; i < od[2]; ++i)
        for (int64_t j = 0; j < od[3]; ++j)
          for (int64_t l = 0; l < od[4]; ++l) {
            double acc = bv[m];
            const int64_t g = m / 3;
            for (int64_t c = 0; c < 2; ++c)
              for (int64_t a0 = 0; a0 < 2; ++a0)
                for (int64_t a1 = 0; a1 < 3; ++a1)
                  for (int64_t a2 = 0; a2 < 2; ++a2) {
                    const int64_t z = i * st[0] - pb[0] + a0 * dil[0], h = j * st[1] - pb[1] + a1 * dil[1],
                                  ww = l * st[2] - pb[2] + a2 * dil[2];
                    if (z < 0 || z >= 5 || h < 0 || h >= 6 || ww < 0 || ww >= 4) continue;
                    acc += xv[(((n * 4 + g * 2 + c) * 5 + z) * 6 + h) * 4 + ww] *
                           wv[(((m * 2 + c) * 2 + a0) * 3 + a1) * 2 + a2];
                  }
            expected.push_back(acc);
          }
  expect_close(y, expected, "conv3d");
}

TEST(Conv, AutoPadSameUpperAndLower) {
  const Tensor x = random_tensor({1, 2, 6, 7}, 31);
  const Tensor w = random_tensor({3, 2, 4, 4}, 32);
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER"}) {
    const Tensor y = run1(make_node("Conv", attrs({{"auto_pad", std::string(mode)}, {"strides", Ints{2, 2}}})),
                          {&x, &w});
    EXPECT_EQ(y.dims(), (Dims{1, 3, 3, 4})) << mode;
    // Total pad on H: (3-1)*2+4-6 = 2 -> 1/1; on W: (4-1)*2+4-7 = 3 -> upper 1/2, lower 2/1.
    const bool upper = std::string(mode) == "SAME_UPPER";
    const ConvCase k{1, 2, 6, 7, 3, 4, 4, 1, {2, 2}, {1, upper ? 1 : 2, 1, upper ? 2 : 1}, {1, 1}};
    expect_close(y, reference_conv(k, x.to_doubles(), w.to_doubles(), nullptr, 3, 4), mode);
  }
}

TEST(Conv, DoubleAndHalfPrecision) {
  const ConvCase k{1, 3, 6, 6, 4, 3, 3, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}};
  const Tensor x = random_tensor({1, 3, 6, 6}, 41), w = random_tensor({4, 3, 3, 3}, 42);
  const std::vector<double> ref = reference_conv(k, x.to_doubles(), w.to_doubles(), nullptr, 6, 6);
  const Tensor xd = x.cast(DType::kF64), wd = w.cast(DType::kF64);
  const Tensor yd = run1(make_node("Conv", attrs({{"pads", Ints{1, 1, 1, 1}}})), {&xd, &wd});
  EXPECT_EQ(yd.dtype(), DType::kF64);
  expect_close(yd, ref, Tolerance{1e-6, 1e-6}, "f64");  // inputs were f32-rounded; the math is f64
  const Tensor xh = x.cast(DType::kF16), wh = w.cast(DType::kF16);
  const Tensor yh = run1(make_node("Conv", attrs({{"pads", Ints{1, 1, 1, 1}}})), {&xh, &wh});
  EXPECT_EQ(yh.dtype(), DType::kF16);
  expect_close(yh, reference_conv(k, xh.to_doubles(), wh.to_doubles(), nullptr, 6, 6), Tolerance{1e-2, 5e-3}, "f16");
}

TEST(FusedConv, BiasResidualAndActivations) {
  const ConvCase k{3, 5, 7, 6, 7, 3, 3, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}};
  const Tensor x = random_tensor({3, 5, 7, 6}, 51), w = random_tensor({7, 5, 3, 3}, 52), b = random_tensor({7}, 53);
  const Tensor z = random_tensor({3, 7, 7, 6}, 54);
  const std::vector<double> bd = b.to_doubles(), zd = z.to_doubles();
  std::vector<double> base = reference_conv(k, x.to_doubles(), w.to_doubles(), &bd, 7, 6);
  for (size_t i = 0; i < base.size(); ++i) base[i] += zd[i];
  struct Act { std::string name; float alpha, beta; double (*f)(double, float, float); };
  const std::vector<Act> acts = {
      {"none", 0, 0, [](double v, float, float) { return v; }},
      {"relu", 0, 0, [](double v, float, float) { return std::max(0.0, v); }},
      {"clip", 0.f, 0.6f, [](double v, float a, float b) { return std::min<double>(b, std::max<double>(a, v)); }},
      {"leaky_relu", 0.1f, 0, [](double v, float a, float) { return v >= 0 ? v : v * a; }},
      {"sigmoid", 0, 0, [](double v, float, float) { return 1.0 / (1.0 + std::exp(-v)); }},
      {"hard_sigmoid", 0.3f, 0.4f,
       [](double v, float a, float b) { return std::max(0.0, std::min(1.0, a * v + b)); }},
      {"hard_swish", 0, 0, [](double v, float, float) { return v * std::max(0.0, std::min(1.0, v / 6 + 0.5)); }},
  };
  for (const Act& a : acts) {
    const ir::Node node = make_node("FusedConv", attrs({{"pads", Ints{1, 1, 1, 1}}, {"activation", a.name},
                                                        {"act_alpha", a.alpha}, {"act_beta", a.beta}}));
    std::vector<double> expected = base;
    for (double& v : expected) v = a.f(v, a.alpha, a.beta);
    expect_close(run1(node, {&x, &w, &b, &z}), expected, a.name);
  }
}

TEST(FusedConv, WithoutBiasButWithResidual) {
  const ConvCase k{1, 4, 5, 5, 4, 1, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}};
  const Tensor x = random_tensor({1, 4, 5, 5}, 61), w = random_tensor({4, 4, 1, 1}, 62), z = random_tensor({1, 4, 5, 5}, 63);
  std::vector<double> expected = reference_conv(k, x.to_doubles(), w.to_doubles(), nullptr, 5, 5);
  const std::vector<double> zd = z.to_doubles();
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = std::max(0.0, expected[i] + zd[i]);
  ir::Node node = make_node("FusedConv", attrs({{"activation", std::string("relu")}}));
  expect_close(run1(node, {&x, &w, nullptr, &z}), expected);
}

TEST(ConvErrors, BadShapesAndAttributes) {
  const Tensor x = random_tensor({1, 4, 5, 5}, 71), w = random_tensor({2, 3, 3, 3}, 72);
  expect_error(make_node("Conv"), {&x, &w}, "input channels");
  const Tensor w4 = random_tensor({2, 4, 3, 3}, 73);
  expect_error(make_node("Conv", attrs({{"strides", Ints{0, 1}}})), {&x, &w4}, "strides");
  expect_error(make_node("Conv", attrs({{"pads", Ints{1, 1}}})), {&x, &w4}, "pads");
  expect_error(make_node("Conv", attrs({{"auto_pad", std::string("SAME_X")}})), {&x, &w4}, "auto_pad");
  expect_error(make_node("Conv", attrs({{"group", int64_t{3}}})), {&x, &w4}, "group");
  const Tensor big = random_tensor({2, 4, 7, 7}, 74);
  expect_error(make_node("Conv"), {&x, &big}, "does not fit");
  const Tensor b = random_tensor({5}, 75);
  expect_error(make_node("Conv"), {&x, &w4, &b}, "bias");
  expect_error(make_node("Conv"), {&x}, "missing required input 1");
  expect_error(make_node("FusedConv", attrs({{"activation", std::string("gelu_x")}})), {&x, &w4}, "gelu_x");
  const Tensor xi = Tensor::from_vector<int32_t>({1, 1, 1, 1}, {1});
  expect_error(make_node("Conv"), {&xi, &xi}, "float");
}

}  // namespace
}  // namespace kiln::cpu::testing
