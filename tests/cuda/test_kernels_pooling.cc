// Windowed and global pooling vs CPU loops, both layouts, odd shapes, all float dtypes.
#if KILN_HAVE_CUDA
#include <cfloat>

#include "backends/cuda/kernels/pooling.h"
#include "core/error.h"
#include "test_kernels_support.h"

namespace kiln::cuda::test {
namespace {

using kernels::Layout;
using kernels::Pool2dParams;
using kernels::PoolKind;

int64_t at(const Pool2dParams& p, bool nhwc, int64_t n, int64_t c, int64_t h, int64_t w) {
  return nhwc ? ((n * p.in_h + h) * p.in_w + w) * p.c + c : ((n * p.c + c) * p.in_h + h) * p.in_w + w;
}

std::vector<double> pool_reference(const Pool2dParams& p, const std::vector<float>& x) {
  const bool nhwc = p.layout == Layout::kNHWC;
  std::vector<double> y(p.n * p.c * p.out_h * p.out_w);
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t c = 0; c < p.c; ++c)
      for (int64_t oh = 0; oh < p.out_h; ++oh)
        for (int64_t ow = 0; ow < p.out_w; ++ow) {
          double acc = p.kind == PoolKind::kMax ? -DBL_MAX : 0;
          int real = 0, padded = 0;
          for (int kh = 0; kh < p.kernel_h; ++kh)
            for (int kw = 0; kw < p.kernel_w; ++kw) {
              const int64_t h = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
              const int64_t w = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
              if (h >= -p.pad_top && h < p.in_h + p.pad_bottom && w >= -p.pad_left && w < p.in_w + p.pad_right)
                ++padded;
              if (h < 0 || h >= p.in_h || w < 0 || w >= p.in_w) continue;
              const double v = x[at(p, nhwc, n, c, h, w)];
              acc = p.kind == PoolKind::kMax ? std::max(acc, v) : acc + v;
              ++real;
            }
          double out = p.kind == PoolKind::kMax ? acc : acc / (p.count_include_pad ? padded : real);
          const int64_t oi = nhwc ? ((n * p.out_h + oh) * p.out_w + ow) * p.c + c
                                  : ((n * p.c + c) * p.out_h + oh) * p.out_w + ow;
          y[oi] = out;
        }
  return y;
}

int64_t out_size(int64_t in, int k, int s, int pb, int pe, int d, bool ceil_mode) {
  const int64_t span = in + pb + pe - (int64_t(k - 1) * d + 1);
  return (ceil_mode ? (span + s - 1) / s : span / s) + 1;
}

TEST(KernelsPool2d, MaxAndAverageBothLayouts) {
  KILN_REQUIRE_GPU();
  struct Case { int64_t n, c, h, w; int k, s, pad, d; bool ceil, include_pad; };
  const std::vector<Case> cases = {
      {1, 3, 7, 9, 3, 2, 1, 1, false, false},   // ResNet stem-like, odd spatial
      {3, 13, 10, 11, 2, 2, 0, 1, true, false}, // ceil_mode: last window clipped
      {2, 5, 9, 9, 3, 1, 1, 2, false, true},    // dilation, count_include_pad
      {1, 17, 6, 5, 3, 2, 1, 1, true, true},
      // Channels a multiple of the 16-byte vector: NHWC takes the vectorized kernel.
      {2, 64, 12, 13, 3, 2, 1, 1, false, false},  // ResNet's max pool shape, smaller
      {1, 16, 9, 9, 3, 1, 1, 2, true, true},
      {3, 12, 7, 8, 2, 2, 0, 1, true, false},     // f32 vectors of 4; f16 stays scalar
  };
  uint32_t seed = 1;
  for (DType dtype : float_dtypes())
    for (Layout layout : {Layout::kNCHW, Layout::kNHWC})
      for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage})
        for (const Case& cs : cases) {
          Pool2dParams p;
          p.kind = kind; p.layout = layout; p.dtype = dtype;
          p.n = cs.n; p.c = cs.c; p.in_h = cs.h; p.in_w = cs.w;
          p.kernel_h = p.kernel_w = cs.k; p.stride_h = p.stride_w = cs.s;
          p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = cs.pad;
          p.dilation_h = p.dilation_w = cs.d;
          p.count_include_pad = cs.include_pad;
          p.out_h = out_size(cs.h, cs.k, cs.s, cs.pad, cs.pad, cs.d, cs.ceil);
          p.out_w = out_size(cs.w, cs.k, cs.s, cs.pad, cs.pad, cs.d, cs.ceil);
          auto x = round_to(dtype, random_floats(cs.n * cs.c * cs.h * cs.w, seed++));
          const auto expected = pool_reference(p, x);
          auto dx = upload(dtype, x);
          DeviceBuffer dy(expected.size() * dtype_size(dtype));
          ASSERT_EQ(kernels::pool2d(p, dx->get(), dy.get(), nullptr), cudaSuccess);
          EXPECT_LT(rel_l2(download(dtype, dy.get(), expected.size()), expected), tolerance(dtype))
              << dtype_name(dtype) << " layout " << int(layout) << " kind " << int(kind) << " c=" << cs.c;
        }
}

TEST(KernelsPool2d, BadParamsThrow) {
  Pool2dParams p;
  p.n = 1; p.c = 1; p.in_h = 4; p.in_w = 4; p.out_h = 2; p.out_w = 2;
  p.stride_h = 0;
  EXPECT_THROW(kernels::pool2d(p, nullptr, nullptr, nullptr), kiln::Error);
  p.stride_h = 1; p.pad_top = -1;
  EXPECT_THROW(kernels::pool2d(p, nullptr, nullptr, nullptr), kiln::Error);
  EXPECT_THROW(kernels::global_pool(PoolKind::kMax, Layout::kNHWC, DType::kF32, 1, 1, 0, nullptr, nullptr, nullptr),
               kiln::Error);
}

TEST(KernelsGlobalPool, AverageAndMaxBothLayouts) {
  KILN_REQUIRE_GPU();
  struct Case { int64_t n, c, spatial; };
  // c = 13 takes the scalar NHWC path; 64 and 2048 the 16-byte vector path.
  const std::vector<Case> cases = {{1, 13, 49}, {3, 64, 7 * 7}, {3, 2048, 9}, {2, 24, 1}, {1, 8, 1000}};
  uint32_t seed = 50;
  for (DType dtype : float_dtypes())
    for (Layout layout : {Layout::kNCHW, Layout::kNHWC})
      for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage})
        for (const Case& cs : cases) {
          auto x = round_to(dtype, random_floats(cs.n * cs.c * cs.spatial, seed++));
          std::vector<double> expected(cs.n * cs.c);
          for (int64_t n = 0; n < cs.n; ++n)
            for (int64_t c = 0; c < cs.c; ++c) {
              double acc = kind == PoolKind::kMax ? -DBL_MAX : 0;
              for (int64_t s = 0; s < cs.spatial; ++s) {
                const double v = layout == Layout::kNHWC ? x[(n * cs.spatial + s) * cs.c + c]
                                                         : x[(n * cs.c + c) * cs.spatial + s];
                acc = kind == PoolKind::kMax ? std::max(acc, v) : acc + v;
              }
              expected[n * cs.c + c] = kind == PoolKind::kMax ? acc : acc / cs.spatial;
            }
          auto dx = upload(dtype, x);
          DeviceBuffer dy(expected.size() * dtype_size(dtype));
          ASSERT_EQ(kernels::global_pool(kind, layout, dtype, cs.n, cs.c, cs.spatial, dx->get(), dy.get(), nullptr),
                    cudaSuccess);
          EXPECT_LT(rel_l2(download(dtype, dy.get(), expected.size()), expected), tolerance(dtype))
              << dtype_name(dtype) << " layout " << int(layout) << " c=" << cs.c << " hw=" << cs.spatial;
        }
}

}  // namespace
}  // namespace kiln::cuda::test
#endif  // KILN_HAVE_CUDA
