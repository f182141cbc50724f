// Pooling kernels against direct window loops, plus hand-checked ceil-mode and pad cases.
#include <limits>

#include "cpu_test_support.h"

namespace kiln::cpu::testing {
namespace {

struct PoolCase {
  Dims x;  // N, C, H, W
  Ints kernel, strides, pads, dilations;
  bool ceil_mode;
  bool count_include_pad;
};

int64_t pooled(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d, bool ceil_mode) {
  const int64_t room = in + p0 + p1 - (k - 1) * d - 1;
  int64_t out = (ceil_mode ? (room + s - 1) / s : room / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p0) --out;
  return out;
}

// Returns {max, average} references for one case.
std::pair<std::vector<double>, std::vector<double>> reference_pool(const PoolCase& c, const std::vector<double>& x,
                                                                   Dims* out_dims) {
  const int64_t n = c.x[0], ch = c.x[1], h = c.x[2], w = c.x[3];
  const int64_t oh = pooled(h, c.kernel[0], c.strides[0], c.pads[0], c.pads[2], c.dilations[0], c.ceil_mode);
  const int64_t ow = pooled(w, c.kernel[1], c.strides[1], c.pads[1], c.pads[3], c.dilations[1], c.ceil_mode);
  *out_dims = {n, ch, oh, ow};
  std::vector<double> mx, avg;
  for (int64_t p = 0; p < n * ch; ++p)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        double best = -std::numeric_limits<double>::infinity(), acc = 0;
        int64_t count = 0;
        for (int64_t ki = 0; ki < c.kernel[0]; ++ki)
          for (int64_t kj = 0; kj < c.kernel[1]; ++kj) {
            const int64_t hh = i * c.strides[0] - c.pads[0] + ki * c.dilations[0];
            const int64_t ww = j * c.strides[1] - c.pads[1] + kj * c.dilations[1];
            const bool inside = hh >= 0 && hh < h && ww >= 0 && ww < w;
            const bool in_pad = hh >= -c.pads[0] && hh < h + c.pads[2] && ww >= -c.pads[1] && ww < w + c.pads[3];
            if (inside) {
              best = std::max(best, x[(p * h + hh) * w + ww]);
              acc += x[(p * h + hh) * w + ww];
            }
            if (inside || (c.count_include_pad && in_pad)) ++count;
          }
        mx.push_back(best);
        avg.push_back(acc / static_cast<double>(count));
      }
  return {mx, avg};
}

class PoolRandom : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolRandom, MaxAndAverageMatchLoops) {
  const PoolCase c = GetParam();
  const Tensor x = random_tensor(c.x, 301);
  Dims dims;
  const auto [mx, avg] = reference_pool(c, x.to_doubles(), &dims);
  const ir::Attributes a = attrs({{"kernel_shape", c.kernel}, {"strides", c.strides}, {"pads", c.pads},
                                  {"ceil_mode", int64_t{c.ceil_mode}}, {"count_include_pad", int64_t{c.count_include_pad}}});
  ir::Attributes with_dilations = a;
  with_dilations.set("dilations", c.dilations);
  const Tensor ym = run1(make_node("MaxPool", with_dilations), {&x});
  EXPECT_EQ(ym.dims(), dims);
  expect_close(ym, mx, "max");
  if (c.dilations == Ints{1, 1}) {
    const Tensor ya = run1(make_node("AveragePool", a), {&x});
    EXPECT_EQ(ya.dims(), dims);
    expect_close(ya, avg, "average");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PoolRandom,
    ::testing::Values(PoolCase{{1, 3, 8, 8}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, false, false},
                      PoolCase{{3, 2, 7, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, false, false},
                      PoolCase{{1, 5, 7, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, false, true},
                      PoolCase{{2, 3, 6, 7}, {3, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, true, false},
                      PoolCase{{1, 2, 9, 8}, {3, 3}, {2, 3}, {1, 0, 1, 2}, {1, 1}, true, true},
                      PoolCase{{1, 2, 10, 10}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {2, 2}, false, false},
                      PoolCase{{1, 1, 11, 9}, {2, 3}, {2, 2}, {0, 1, 0, 1}, {2, 1}, true, false}));

TEST(MaxPool, HandCheckedWithIndicesAndCeilMode) {
  // 4x4 input 0..15, kernel 3, stride 2, ceil mode: outputs at rows/cols {0,2}.
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  const Tensor x = Tensor::from_vector<float>({1, 1, 4, 4}, v);
  const ir::Node node = make_node("MaxPool", attrs({{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}},
                                                    {"ceil_mode", int64_t{1}}}), 2);
  const std::vector<Tensor> out = run(node, {&x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].dims(), (Dims{1, 1, 2, 2}));
  expect_close(out[0], std::vector<double>{10, 11, 14, 15});
  expect_close(out[1], std::vector<double>{10, 11, 14, 15}, Tolerance{0, 0});
  const ir::Node col_major = make_node("MaxPool", attrs({{"kernel_shape", Ints{2, 2}}, {"storage_order", int64_t{1}}}), 2);
  expect_error(col_major, {&x}, "storage_order");
}

TEST(MaxPool, OneDimensionalAndInt8) {
  const Tensor x = Tensor::from_vector<int8_t>({1, 1, 5}, {3, -7, 9, 1, -2});
  const Tensor y = run1(make_node("MaxPool", attrs({{"kernel_shape", Ints{2}}, {"strides", Ints{1}}})), {&x});
  EXPECT_EQ(y.dims(), (Dims{1, 1, 4}));
  expect_close(y, std::vector<double>{3, 9, 9, 1}, Tolerance{0, 0});
}

TEST(AveragePool, CountIncludePadHandChecked) {
  const Tensor x = Tensor::from_vector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  ir::Attributes a = attrs({{"kernel_shape", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}, {"strides", Ints{2, 2}}});
  expect_close(run1(make_node("AveragePool", a), {&x}), std::vector<double>{1, 2, 3, 4});
  a.set("count_include_pad", int64_t{1});
  expect_close(run1(make_node("AveragePool", a), {&x}), std::vector<double>{0.25, 0.5, 0.75, 1.0});
}

TEST(Pool3d, MaxAndAverageMatchLoops) {
  const Dims xd = {2, 3, 5, 6, 7};
  const Tensor x = random_tensor(xd, 331);
  const std::vector<double> v = x.to_doubles();
  const Ints k = {2, 3, 2}, s = {2, 2, 3}, pb = {1, 0, 1}, pe = {0, 1, 1};
  const ir::Attributes a = attrs({{"kernel_shape", k}, {"strides", s}, {"pads", Ints{1, 0, 1, 0, 1, 1}},
                                  {"count_include_pad", int64_t{1}}});
  Dims od = {2, 3};
  for (int d = 0; d < 3; ++d) od.push_back((xd[2 + d] + pb[d] + pe[d] - k[d]) / s[d] + 1);
  std::vector<double> mx, avg;
  for (int64_t p = 0; p < 6; ++p)
    for (int64_t i = 0; i < od[2]; ++i)
      for (int64_t j = 0; j < od[3]; ++j)
        for (int64_t l = 0; l < od[4]; ++l) {
          double best = -1e30, acc = 0;
          for (int64_t a0 = 0; a0 < k[0]; ++a0)
            for (int64_t a1 = 0; a1 < k[1]; ++a1)
              for (int64_t a2 = 0; a2 < k[2]; ++a2) {
                const int64_t z = i * s[0] - pb[0] + a0, h = j * s[1] - pb[1] + a1, w = l * s[2] - pb[2] + a2;
                if (z < 0 || z >= 5 || h < 0 || h >= 6 || w < 0 || w >= 7) continue;
                const double e = v[((p * 5 + z) * 6 + h) * 7 + w];
                best = std::max(best, e);
                acc += e;
              }
          mx.push_back(best);
          avg.push_back(acc / 12.0);  // count_include_pad: the whole 2x3x2 window
        }
  const std::vector<Tensor> ym = run(make_node("MaxPool", a, 2), {&x});
  EXPECT_EQ(ym[0].dims(), od);
  expect_close(ym[0], mx, "max3d");
  const std::vector<double> flat = x.to_doubles();
  const std::vector<double> picked = ym[1].to_doubles();
  for (size_t i = 0; i < picked.size(); ++i) EXPECT_EQ(flat[static_cast<size_t>(picked[i])], mx[i]);
  expect_close(run1(make_node("AveragePool", a), {&x}), avg, "avg3d");
}

TEST(GlobalPools, AverageAndMax) {
  const Tensor x = random_tensor({3, 4, 5, 6}, 311);
  const std::vector<double> v = x.to_doubles();
  std::vector<double> avg, mx;
  for (int p = 0; p < 12; ++p) {
    double s = 0, m = -1e9;
    for (int i = 0; i < 30; ++i) {
      s += v[p * 30 + i];
      m = std::max(m, v[p * 30 + i]);
    }
    avg.push_back(s / 30);
    mx.push_back(m);
  }
  const Tensor ya = run1(make_node("GlobalAveragePool"), {&x});
  EXPECT_EQ(ya.dims(), (Dims{3, 4, 1, 1}));
  expect_close(ya, avg);
  expect_close(run1(make_node("GlobalMaxPool"), {&x}), mx);
  const Tensor x3 = random_tensor({1, 2, 3}, 312);
  EXPECT_EQ(run1(make_node("GlobalAveragePool"), {&x3}).dims(), (Dims{1, 2, 1}));
}

TEST(PoolErrors, BadAttributes) {
  const Tensor x = random_tensor({1, 1, 4, 4}, 321);
  expect_error(make_node("MaxPool"), {&x}, "kernel_shape");
  expect_error(make_node("MaxPool", attrs({{"kernel_shape", Ints{5, 5}}})), {&x}, "does not fit");
  expect_error(make_node("AveragePool", attrs({{"kernel_shape", Ints{2, 2}}, {"strides", Ints{-1, 1}}})), {&x},
               "strides");
  const Tensor flat = random_tensor({4, 4}, 322);
  expect_error(make_node("MaxPool", attrs({{"kernel_shape", Ints{2, 2}}})), {&flat}, "[N, C, spatial");
  expect_error(make_node("GlobalAveragePool"), {&flat}, "[N, C, spatial");
}

}  // namespace
}  // namespace kiln::cpu::testing
