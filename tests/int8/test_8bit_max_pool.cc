// The quantized max pool kernel (backends/cuda/int8/int8_pool.h) on its own, against a CPU
// loop over the decoded values: INT8 values, and E4M3 codes of both signs (sign and
// magnitude, so the kernel's order key must put -3 below -2 and every negative below every
// positive, which a plain signed-byte max does not). The graph tests (test_int8_gpu.cc) run
// it between convolutions, where a relu leaves only values >= 0.
//
// Shapes: ResNet's 3x3/2 pad 1 on odd sizes (windows clipped at the edges) with 32 channels
// (16-byte vectors), 12 channels (4-byte vectors), 5 channels (single bytes), and a 2x2/2
// unpadded one. The output must equal the reference byte for byte, except that the maximum
// of a window of zeros may be either zero code in E4M3 (+0 and -0 are the same value).
#ifdef KILN_HAVE_CUDA

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../cuda/test_kernels_support.h"
#include "backends/cuda/int8/int8_pool.h"
#include "quant/fp8.h"

namespace kiln::cuda::test {
namespace {

using kernels::Layout;
using kernels::PoolKind;
using kernels::Pool2dParams;

struct PoolCase {
  const char* name;
  int64_t n, c, h, w;
  int k, stride, pad;
};

float decode(bool fp8, uint8_t byte) { return fp8 ? quant::e4m3_to_float(byte) : float(int8_t(byte)); }

// Seeded random bytes: every INT8 value, or every finite E4M3 code (0x7f and 0xff are NaN).
std::vector<uint8_t> random_bytes(bool fp8, size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(0, 255);
  std::vector<uint8_t> v(count);
  for (auto& b : v) {
    do b = static_cast<uint8_t>(dist(rng));
    while (fp8 && (b & 0x7f) == 0x7f);
  }
  return v;
}

// The CPU pool: per window, the input byte of the largest decoded value (the first one of
// equal values); a window entirely in the padding gives 0.
std::vector<uint8_t> reference_pool(bool fp8, const std::vector<uint8_t>& x, const Pool2dParams& p) {
  std::vector<uint8_t> y(size_t(p.n * p.out_h * p.out_w * p.c));
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t oh = 0; oh < p.out_h; ++oh)
      for (int64_t ow = 0; ow < p.out_w; ++ow)
        for (int64_t c = 0; c < p.c; ++c) {
          bool any = false;
          uint8_t best = 0;
          for (int kh = 0; kh < p.kernel_h; ++kh)
            for (int kw = 0; kw < p.kernel_w; ++kw) {
              const int64_t ih = oh * p.stride_h - p.pad_top + kh, iw = ow * p.stride_w - p.pad_left + kw;
              if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
              const uint8_t v = x[size_t(((n * p.in_h + ih) * p.in_w + iw) * p.c + c)];
              if (!any || decode(fp8, v) > decode(fp8, best)) best = v;
              any = true;
            }
          y[size_t(((n * p.out_h + oh) * p.out_w + ow) * p.c + c)] = best;
        }
  return y;
}

void expect_pool_matches_reference(bool fp8, const PoolCase& pc) {
  SCOPED_TRACE(fmt::format("{} {}", fp8 ? "fp8" : "int8", pc.name));
  Pool2dParams p;
  p.kind = PoolKind::kMax;
  p.layout = Layout::kNHWC;
  p.n = pc.n, p.c = pc.c, p.in_h = pc.h, p.in_w = pc.w;
  p.kernel_h = p.kernel_w = pc.k;
  p.stride_h = p.stride_w = pc.stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pc.pad;
  p.out_h = (pc.h + 2 * pc.pad - pc.k) / pc.stride + 1;
  p.out_w = (pc.w + 2 * pc.pad - pc.k) / pc.stride + 1;
  const std::vector<uint8_t> x = random_bytes(fp8, size_t(pc.n * pc.h * pc.w * pc.c), 1234u + uint32_t(pc.c));
  const std::vector<uint8_t> want = reference_pool(fp8, x, p);
  const auto dx = upload_raw(x);
  DeviceBuffer dy(want.size());
  ASSERT_EQ(cuda::int8::max_pool_8bit_nhwc(p, fp8, dx->get(), dy.get(), nullptr), cudaSuccess);
  const std::vector<uint8_t> got = download_raw<uint8_t>(dy.get(), want.size());
  int bad = 0, negative_maxima = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    negative_maxima += decode(fp8, want[i]) < 0;
    const bool same = got[i] == want[i] || (fp8 && decode(fp8, got[i]) == 0 && decode(fp8, want[i]) == 0);
    if (same) continue;
    if (++bad <= 8) {
      ADD_FAILURE() << "element " << i << ": got " << decode(fp8, got[i]) << " (0x" << std::hex << int(got[i])
                    << std::dec << ") want " << decode(fp8, want[i]);
    }
  }
  EXPECT_EQ(bad, 0) << "of " << want.size();
  // The data must exercise the negative side (windows whose maximum is below zero).
  if (pc.k == 2) {
    EXPECT_GT(negative_maxima, 0);
  }
}

const PoolCase kCases[] = {
    {"3x3s2p1_c32_15x13", 3, 32, 15, 13, 3, 2, 1},
    {"3x3s2p1_c12_9x11", 2, 12, 9, 11, 3, 2, 1},
    {"3x3s2p1_c5_7x7", 2, 5, 7, 7, 3, 2, 1},
    {"2x2s2_c16_10x10", 4, 16, 10, 10, 2, 2, 0},
};

TEST(MaxPool8Bit, Int8MatchesCpuLoop) {
  KILN_REQUIRE_GPU();
  for (const PoolCase& pc : kCases) expect_pool_matches_reference(false, pc);
}

TEST(MaxPool8Bit, Fp8CodesOfBothSignsMatchCpuLoop) {
  KILN_REQUIRE_GPU();
  for (const PoolCase& pc : kCases) expect_pool_matches_reference(true, pc);
}

}  // namespace
}  // namespace kiln::cuda::test

#endif  // KILN_HAVE_CUDA
