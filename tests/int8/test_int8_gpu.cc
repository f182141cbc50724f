// GPU INT8 convolutions against the CPU integer reference (quant/int8_reference.h), which
// reproduces the device arithmetic: the input rounded to fp16 and quantized, exact int32
// sums, the fused-multiply-add epilogue and requantization between convolutions.
#ifdef KILN_HAVE_CUDA

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "../cuda/cuda_engine_support.h"
#include "backends/cuda/cuda_engine.h"
#include "chain_graphs.h"
#include "int8_oracle.h"
#include "core/npy.h"
#include "passes/pipeline.h"
#include "quant/calibration_data.h"
#include "quant/int8_reference.h"

namespace kiln::cuda_test {
namespace {

namespace fs = std::filesystem;

// Builds an INT8 engine of `g` (input [n, cin, size, size]; minmax calibration on random
// tensors) and checks it bit for bit against the integer reference at batches 1 and 3.
// `ops` (if given) receives the engine's ops.
void expect_graph_matches_reference(const ir::Graph& g, const ChainCase& c, std::vector<cuda::OpTiming>* ops = nullptr) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("kiln_int8_gpu_{}_{}", ::getpid(), c.name);
  fs::create_directories(dir / "data");
  for (int i = 0; i < 4; ++i)
    write_npy_file((dir / "data" / fmt::format("s{}.npy", i)).string(), random_tensor({2, c.cin, c.size, c.size}, 500 + i));
  BuildOptions o;
  o.device = "cuda:0";
  o.precision = Precision::kINT8;
  o.max_batch_size = 3;
  o.calib_data_dir = (dir / "data").string();
  o.calibrator = "minmax";
  o.calib_cache_path = (dir / "calib.cache").string();
  auto engine = cuda::make_cuda_backend(0)->build(g, o);
  if (ops) *ops = cuda::op_timings(*engine);
  ir::Graph optimized = g;
  passes::optimize_for_inference(optimized, Precision::kINT8);
  const quant::CalibrationTable table = quant::load_calibration_cache(o.calib_cache_path, optimized);
  for (int batch : {1, 3}) {
    const Tensor x = random_tensor({batch, c.cin, c.size, c.size}, 900 + batch);
    const Tensor want = int8_oracle(optimized, table, x);
    const auto got = run_gpu(*engine, {x}, 3);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].dims(), want.dims());
    int64_t exact = 0;
    double max_abs = 0, max_ref = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      const float a = got[0].data<float>()[i], b = want.data<float>()[i];
      exact += a == b;
      max_abs = std::max(max_abs, double(std::fabs(a - b)));
      max_ref = std::max(max_ref, double(std::fabs(b)));
    }
    EXPECT_GT(max_ref, 0);
    EXPECT_EQ(exact, want.numel()) << c.name << " batch " << batch << ": max |diff| " << max_abs << " of " << max_ref;
    // Against the float model: INT8 error stays small.
    EXPECT_LE(relative_l2(got[0], cpu::run_graph(g, {x})[0]), 0.08) << c.name;
  }
  fs::remove_all(dir);
}

void expect_chain_matches_reference(const ChainCase& c) { expect_graph_matches_reference(chain_graph(c), c); }

class Int8Chain : public ::testing::TestWithParam<ChainCase> {};

TEST_P(Int8Chain, MatchesCpuIntegerReference) {
  KILN_REQUIRE_GPU();
  expect_chain_matches_reference(GetParam());
}

// Sets KILN_INT8_MIN_CHANNELS for one scope (this binary runs with 1, see
// narrow_channels_env.cc) and puts the previous value back.
class MinChannelsScope {
 public:
  explicit MinChannelsScope(const char* value) {
    if (const char* old = std::getenv("KILN_INT8_MIN_CHANNELS")) old_ = old;
    ::setenv("KILN_INT8_MIN_CHANNELS", value, 1);
  }
  ~MinChannelsScope() {
    if (old_.empty()) ::unsetenv("KILN_INT8_MIN_CHANNELS");
    else ::setenv("KILN_INT8_MIN_CHANNELS", old_.c_str(), 1);
  }

 private:
  std::string old_;
};

// With the default channel minimum, thin stride-2 stems run quantized through the
// space-to-depth rewrite (quant/space_to_depth.h): still exactly the integer reference of
// the original convolution, for ResNet's 7x7/2 (odd size, so the image's last row and
// column are partly padding) and a 3x3/2 with an INT8 consumer.
TEST(Int8Stem, SpaceToDepthMatchesCpuIntegerReference) {
  KILN_REQUIRE_GPU();
  const MinChannelsScope default_minimum("16");
  expect_chain_matches_reference({"stem7x7", 3, 23, {{16, 7, 2, 3}}});
  expect_chain_matches_reference({"stem3x3_then_1x1", 4, 17, {{16, 3, 2, 1}, {24, 1, 1, 0}}});
}

// A max pool between two INT8 convolutions runs on the INT8 values (quant/int8_plan.h): the
// first convolution quantizes with the pool output's scale. As ResNet's stem: 3x3/2 pad 1
// (odd sizes, so windows are clipped at the bottom and right), on 24 channels (4-byte
// vectors) and 32 (16-byte vectors); a 2x2/2 without padding on 13 channels (stored as 16).
TEST(Int8MaxPool, BetweenInt8ConvolutionsMatchesCpuIntegerReference) {
  KILN_REQUIRE_GPU();
  struct PoolCase {
    ChainCase chain;  // the convolution before the pool (one entry) and the one after
    int64_t k, stride, pad;
  };
  for (const PoolCase& pc : {PoolCase{{"pool3x3s2_c24", 8, 15, {{24, 3, 1, 1}, {16, 1, 1, 0}}}, 3, 2, 1},
                             PoolCase{{"pool3x3s2_c32", 16, 17, {{32, 3, 2, 1}, {32, 3, 1, 1}}}, 3, 2, 1},
                             PoolCase{{"pool2x2s2_c13", 4, 14, {{13, 3, 1, 1}, {8, 1, 1, 0}}}, 2, 2, 0}}) {
    const ChainCase& c = pc.chain;
    GraphBuilder b({1, c.cin, c.size, c.size});
    const auto& [c1, k1, s1, p1] = c.convs[0];
    const auto& [c2, k2, s2, p2] = c.convs[1];
    int y = b.node("Relu", {b.conv(b.input(), c.cin, c1, k1, s1, p1)});
    ir::Attributes pool;
    pool.set("kernel_shape", std::vector<int64_t>{pc.k, pc.k});
    pool.set("strides", std::vector<int64_t>{pc.stride, pc.stride});
    pool.set("pads", std::vector<int64_t>{pc.pad, pc.pad, pc.pad, pc.pad});
    y = b.node("MaxPool", {y}, pool);
    y = b.node("Relu", {b.conv(y, c1, c2, k2, s2, p2)});
    const ir::Graph g = b.finish({y});
    SCOPED_TRACE(c.name);
    // The engine's pool reads INT8: nothing is quantized but the input.
    std::vector<cuda::OpTiming> ops;
    expect_graph_matches_reference(g, c, &ops);
    int pools = 0, quantizes = 0;
    for (const cuda::OpTiming& op : ops) {
      pools += op.op == "MaxPool";
      quantizes += op.op == "QuantizeInt8";
    }
    EXPECT_EQ(pools, 1);
    EXPECT_EQ(quantizes, 1) << "a quantization after the max pool: it ran in float";
  }
}

INSTANTIATE_TEST_SUITE_P(Cuda, Int8Chain,
                         ::testing::Values(ChainCase{"single_3x3", 16, 12, {{32, 3, 1, 1}}},
                                           ChainCase{"odd_channels_stride2", 3, 15, {{13, 3, 2, 1}, {7, 1, 1, 0}}},
                                           ChainCase{"three_layers", 8, 10, {{16, 3, 1, 1}, {16, 3, 2, 1}, {24, 1, 1, 0}}}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Int8Build, WithoutCalibrationDataIsRefused) {
  KILN_REQUIRE_GPU();
  const ir::Graph g = chain_graph({"x", 4, 6, {{4, 3, 1, 1}}});
  BuildOptions o;
  o.device = "cuda:0";
  o.precision = Precision::kINT8;
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
