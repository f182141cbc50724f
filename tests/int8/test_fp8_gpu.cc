// GPU FP8 (E4M3) convolution chains against a CPU emulation of the same arithmetic:
//   x_q = e4m3(f16(x) * (1 / s_x)),  w_q = e4m3(w / s_w[k])        (quant/fp8.h rounding)
//   acc = sum over (r, s, c) of fma(x_q, w_q, acc) in f32, KRSC order
//   v = fma(acc, s_x * s_w[k], bias[k]); relu; y_q = e4m3(v * (1 / s_y)), or f16(v) at the end
// The direct family computes exactly this, so with KILN_INT8_TACTIC=direct the outputs must
// match bit for bit. Any other family (cuDNN's graph, cuBLASLt) sums in its own order and
// precision, so an intermediate E4M3 value sitting on a rounding boundary may come out one
// code step away: at most 2^-3 of its magnitude (3 mantissa bits). Such flips need the sum
// to fall within accumulation noise (~1e-6 relative) of a boundary, so they are rare; the
// bound 1/32 on the relative L2 error would still hold with 1/16 of all elements one step
// off (sqrt(1/16) * 1/8 = 1/32).
// Against the float model, each E4M3 rounding has a relative error uniform in +-2^-4, an RMS
// of 2^-4/sqrt(3) = 3.6%; input, weights and output of each layer make ~6% per layer, and up
// to three layers in quadrature ~11%: the bound is 0.15.
#ifdef KILN_HAVE_CUDA

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <cuda_runtime.h>

#include "../cuda/cuda_engine_support.h"
#include "chain_graphs.h"
#include "core/npy.h"
#include "passes/pipeline.h"
#include "quant/calibration_data.h"
#include "quant/fp8.h"

namespace kiln::cuda_test {
namespace {

namespace fs = std::filesystem;

// Skips unless the GPU has FP8 tensor cores (compute capability 8.9+).
#define KILN_REQUIRE_FP8_GPU()                                                                       \
  KILN_REQUIRE_GPU();                                                                                \
  do {                                                                                               \
    cudaDeviceProp prop_{};                                                                          \
    cudaGetDeviceProperties(&prop_, 0);                                                              \
    if (prop_.major * 10 + prop_.minor < 89)                                                         \
      GTEST_SKIP() << prop_.name << " (compute capability " << prop_.major << "." << prop_.minor   \
                   << ") has no FP8 tensor cores";                                                   \
  } while (0)

// NCHW f32 tensor of E4M3 values.
Tensor quantize_e4m3(const Tensor& x, float inv_scale) {
  Tensor out(DType::kF32, x.dims());
  for (int64_t i = 0; i < x.numel(); ++i) out.data<float>()[i] = quant::round_to_e4m3(x.data<float>()[i] * inv_scale);
  return out;
}

// The optimized graph's convolutions in order, computed as the FP8 engine's direct family does.
Tensor fp8_emulation(const ir::Graph& optimized, const quant::CalibrationTable& table, const Tensor& x) {
  float x_scale = table.fp8_scale(optimized.value(optimized.nodes[0].inputs[0]).name);
  Tensor q = quantize_e4m3(x.cast(DType::kF16).cast(DType::kF32), 1.0f / x_scale);
  for (size_t i = 0; i < optimized.nodes.size(); ++i) {
    const ir::Node& n = optimized.nodes[i];
    EXPECT_EQ(n.op, "FusedConv");
    const Tensor& w = *optimized.value(n.inputs[1]).constant;
    const Tensor& bias = *optimized.value(n.inputs[2]).constant;
    const std::vector<float> sw = quant::fp8_per_channel_scales(w);
    const auto pads = n.attrs.get_ints("pads", {0, 0, 0, 0});
    const auto strides = n.attrs.get_ints("strides", {1, 1});
    const int64_t N = q.dim(0), C = q.dim(1), H = q.dim(2), W = q.dim(3);
    const int64_t K = w.dim(0), R = w.dim(2), S = w.dim(3);
    const int64_t Ho = (H + pads[0] + pads[2] - R) / strides[0] + 1, Wo = (W + pads[1] + pads[3] - S) / strides[1] + 1;
    const bool last = i + 1 == optimized.nodes.size();
    const bool relu = n.attrs.get_string("activation", "none") == "relu";
    const float y_inv = last ? 1.0f : 1.0f / table.fp8_scale(optimized.value(n.outputs[0]).name);
    Tensor y(DType::kF32, {N, K, Ho, Wo});
    for (int64_t in = 0; in < N; ++in)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t oy = 0; oy < Ho; ++oy)
          for (int64_t ox = 0; ox < Wo; ++ox) {
            float acc = 0;
            for (int64_t r = 0; r < R; ++r) {
              const int64_t iy = oy * strides[0] - pads[0] + r;
              if (iy < 0 || iy >= H) continue;
              for (int64_t s = 0; s < S; ++s) {
                const int64_t ix = ox * strides[1] - pads[1] + s;
                if (ix < 0 || ix >= W) continue;
                for (int64_t c = 0; c < C; ++c) {
                  const float wq = quant::round_to_e4m3(w.data<float>()[((k * C + c) * R + r) * S + s] / sw[k]);
                  acc = std::fma(q.data<float>()[((in * C + c) * H + iy) * W + ix], wq, acc);
                }
              }
            }
            float v = std::fma(acc, x_scale * sw[k], bias.data<float>()[k]);
            if (relu) v = std::max(v, 0.0f);
            y.data<float>()[((in * K + k) * Ho + oy) * Wo + ox] = last ? v : quant::round_to_e4m3(v * y_inv);
          }
    q = last ? y.cast(DType::kF16).cast(DType::kF32) : y;
    x_scale = last ? 1.0f : table.fp8_scale(optimized.value(n.outputs[0]).name);
  }
  return q;
}

// KILN_INT8_TACTIC for the scope of one test.
class ScopedTactic {
 public:
  explicit ScopedTactic(const char* family) {
    if (family) ::setenv("KILN_INT8_TACTIC", family, 1);
    else ::unsetenv("KILN_INT8_TACTIC");
  }
  ~ScopedTactic() { ::unsetenv("KILN_INT8_TACTIC"); }
};

class Fp8Chain : public ::testing::TestWithParam<std::tuple<ChainCase, const char*>> {};

TEST_P(Fp8Chain, MatchesCpuEmulation) {
  KILN_REQUIRE_FP8_GPU();
  const auto [c, family] = GetParam();
  const bool exact = family != nullptr;
  ScopedTactic tactic(family);
  const ir::Graph g = chain_graph(c);
  const fs::path dir = fs::temp_directory_path() / fmt::format("kiln_fp8_gpu_{}_{}", ::getpid(), c.name);
  fs::create_directories(dir / "data");
  for (int i = 0; i < 4; ++i)
    write_npy_file((dir / "data" / fmt::format("s{}.npy", i)).string(), random_tensor({2, c.cin, c.size, c.size}, 500 + i));
  BuildOptions o;
  o.device = "cuda:0";
  o.precision = Precision::kFP8;
  o.max_batch_size = 3;
  o.calib_data_dir = (dir / "data").string();
  o.calibrator = "minmax";
  o.calib_cache_path = (dir / "calib.cache").string();
  o.progress = [](const std::string& line) {
    if (line.find("fp8") != std::string::npos) fmt::print("  {}\n", line);
  };
  auto engine = cuda::make_cuda_backend(0)->build(g, o);
  ir::Graph optimized = g;
  passes::optimize_for_inference(optimized, Precision::kFP8);
  const quant::CalibrationTable table = quant::load_calibration_cache(o.calib_cache_path, optimized);
  for (int batch : {1, 3}) {
    const Tensor x = random_tensor({batch, c.cin, c.size, c.size}, 900 + batch);
    const Tensor want = fp8_emulation(optimized, table, x);
    const auto got = run_gpu(*engine, {x}, 3);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].dims(), want.dims());
    int64_t same = 0;
    for (int64_t i = 0; i < want.numel(); ++i) same += got[0].data<float>()[i] == want.data<float>()[i];
    const double err = relative_l2(got[0], want);
    fmt::print("{} {} batch {}: {} of {} equal, relative L2 {:.3g}\n", c.name, family ? family : "free", batch, same,
               want.numel(), err);
    if (exact) {
      EXPECT_EQ(same, want.numel()) << c.name << " batch " << batch;
    }
    EXPECT_LE(err, 1.0 / 32) << c.name << " batch " << batch;
    EXPECT_LE(relative_l2(got[0], cpu::run_graph(g, {x})[0]), 0.15) << c.name;
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Cuda, Fp8Chain,
    ::testing::Combine(::testing::Values(ChainCase{"single_3x3", 16, 12, {{32, 3, 1, 1}}},
                                         ChainCase{"odd_channels_stride2", 3, 15, {{13, 3, 2, 1}, {7, 1, 1, 0}}},
                                         ChainCase{"three_layers", 16, 10, {{32, 3, 1, 1}, {32, 3, 2, 1}, {48, 1, 1, 0}}}),
                       ::testing::Values(static_cast<const char*>(nullptr), "direct")),
    [](const auto& info) {
      return std::string(std::get<0>(info.param).name) + (std::get<1>(info.param) ? "_direct" : "_free");
    });

TEST(Fp8Build, WithoutCalibrationDataIsRefused) {
  KILN_REQUIRE_FP8_GPU();
  const ir::Graph g = chain_graph({"x", 16, 6, {{16, 3, 1, 1}}});
  BuildOptions o;
  o.device = "cuda:0";
  o.precision = Precision::kFP8;
  try {
    cuda::make_cuda_backend(0)->build(g, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--calib-data"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::cuda_test

#endif  // KILN_HAVE_CUDA
