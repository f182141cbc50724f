// GPU INT8 convolutions against the CPU integer reference (quant/int8_reference.h), which
// reproduces the device arithmetic: the input rounded to fp16 and quantized, exact int32
// sums, the fused-multiply-add epilogue and requantization between convolutions.
#ifdef KILN_HAVE_CUDA

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "../cuda/cuda_engine_support.h"
#include "chain_graphs.h"
#include "int8_oracle.h"
#include "core/npy.h"
#include "passes/pipeline.h"
#include "quant/calibration_data.h"
#include "quant/int8_reference.h"

namespace kiln::cuda_test {
namespace {

namespace fs = std::filesystem;

// Builds an INT8 engine of chain `c` (minmax calibration on random tensors) and checks it
// bit for bit against the integer reference at batches 1 and 3.
void expect_chain_matches_reference(const ChainCase& c) {
  const ir::Graph g = chain_graph(c);
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
