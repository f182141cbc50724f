// The cuBLASLt GEMM wrapper vs a double-precision loop: every precision, transposes,
// epilogues, beta*C, odd sizes; algorithm enumeration, timing and serialization.
#if KILN_HAVE_CUDA
#include <cmath>

#include "backends/cuda/kernels/gemm_cublaslt.h"
#include "test_kernels_support.h"

namespace kiln::cuda::test {
namespace {

using kernels::GemmAlgo;
using kernels::GemmEpilogue;
using kernels::GemmPrecision;
using kernels::GemmProblem;

double tolerance_for(GemmPrecision p) {
  switch (p) {
    case GemmPrecision::kF32: return 1e-5;
    case GemmPrecision::kTF32: return 3e-3;
    default: return 1e-2;
  }
}

double gelu_tanh(double x) { return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }

struct GemmCase {
  int64_t m, n, k;
  bool ta, tb;
  GemmEpilogue epilogue;
  bool with_c;
};

void check_gemm(GemmPrecision precision, const GemmCase& gc, uint32_t seed) {
  const DType dtype = kernels::gemm_storage_dtype(precision);
  GemmProblem problem;
  problem.m = gc.m; problem.n = gc.n; problem.k = gc.k;
  problem.trans_a = gc.ta; problem.trans_b = gc.tb;
  problem.precision = precision; problem.epilogue = gc.epilogue; problem.has_c = gc.with_c;
  auto a = round_to(dtype, random_floats(gc.m * gc.k, seed));
  auto b = round_to(dtype, random_floats(gc.k * gc.n, seed + 1));
  auto c = round_to(dtype, random_floats(gc.m * gc.n, seed + 2));
  auto bias = round_to(dtype, random_floats(gc.n, seed + 3));
  const float alpha = 0.75f, beta = gc.with_c ? 0.5f : 0.0f;
  std::vector<double> expected(gc.m * gc.n);
  for (int64_t i = 0; i < gc.m; ++i)
    for (int64_t j = 0; j < gc.n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < gc.k; ++p) {
        const double av = gc.ta ? a[p * gc.m + i] : a[i * gc.k + p];
        const double bv = gc.tb ? b[j * gc.k + p] : b[p * gc.n + j];
        acc += av * bv;
      }
      double v = alpha * acc + beta * c[i * gc.n + j];
      if (gc.epilogue != GemmEpilogue::kDefault) v += bias[j];
      if (gc.epilogue == GemmEpilogue::kReluBias) v = std::max(v, 0.0);
      if (gc.epilogue == GemmEpilogue::kGeluBias) v = gelu_tanh(v);
      expected[i * gc.n + j] = v;
    }
  auto da = upload(dtype, a), db = upload(dtype, b), dc = upload(dtype, c), dbias = upload(dtype, bias);
  DeviceBuffer dd(gc.m * gc.n * dtype_size(dtype));
  const size_t ws_bytes = 32 << 20;
  DeviceBuffer ws(ws_bytes);
  auto gemm = kernels::CublasLtGemm::create(problem);
  const auto algos = gemm->enumerate_algos(8, ws_bytes);
  ASSERT_FALSE(algos.empty());
  kernels::GemmBuffers buf{da->get(), db->get(), gc.with_c ? dc->get() : nullptr, dbias->get(), dd.get(), alpha, beta};
  // Every proposed algorithm must compute the same function.
  for (const GemmAlgo& algo : algos) {
    cudaMemset(dd.get(), 0xff, dd.bytes());
    const Status s = gemm->run(algo, buf, ws.get(), ws_bytes, nullptr);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_LT(rel_l2(download(dtype, dd.get(), expected.size()), expected), tolerance_for(precision))
        << kernels::gemm_precision_name(precision) << " " << gc.m << "x" << gc.n << "x" << gc.k << " ta " << gc.ta
        << " tb " << gc.tb << " epilogue " << int(gc.epilogue) << " " << algo.describe();
  }
}

TEST(KernelsGemm, AllPrecisionsTransposesEpilogues) {
  KILN_REQUIRE_GPU();
  const std::vector<GemmCase> cases = {
      {64, 48, 80, false, false, GemmEpilogue::kDefault, false},
      {64, 48, 80, true, false, GemmEpilogue::kBias, false},
      {64, 48, 80, false, true, GemmEpilogue::kReluBias, false},
      {64, 48, 80, true, true, GemmEpilogue::kGeluBias, false},
      {128, 64, 96, false, false, GemmEpilogue::kDefault, true},
      {33, 17, 29, false, false, GemmEpilogue::kDefault, false},  // odd sizes
      {1, 1000, 2048, false, true, GemmEpilogue::kBias, false},   // classifier head, batch 1
      {3, 1000, 512, false, true, GemmEpilogue::kBias, false},    // batch 3
  };
  uint32_t seed = 1;
  for (GemmPrecision p : {GemmPrecision::kF32, GemmPrecision::kTF32, GemmPrecision::kF16, GemmPrecision::kBF16})
    for (const GemmCase& gc : cases) check_gemm(p, gc, seed += 7);
}

TEST(KernelsGemm, TimeAlgosPicksARunnableFastest) {
  KILN_REQUIRE_GPU();
  GemmProblem problem;
  problem.m = 512; problem.n = 512; problem.k = 512;
  problem.precision = GemmPrecision::kF16;
  auto a = upload(DType::kF16, random_floats(512 * 512, 5));
  auto b = upload(DType::kF16, random_floats(512 * 512, 6));
  DeviceBuffer d(512 * 512 * 2), ws(32 << 20);
  const auto algos = kernels::enumerate_algos(problem, 6, 32 << 20);
  ASSERT_FALSE(algos.empty());
  kernels::GemmBuffers buf{a->get(), b->get(), nullptr, nullptr, d.get()};
  const GemmAlgo best = kernels::time_algos(problem, algos, buf, ws.get(), 32 << 20, nullptr, 5);
  EXPECT_GT(best.measured_ms, 0.0f);
  EXPECT_TRUE(kernels::CublasLtGemm::create(problem)->algo_is_supported(best));
}

TEST(KernelsGemm, AlgoSerializationRoundTrips) {
  KILN_REQUIRE_GPU();
  GemmProblem problem;
  problem.m = 256; problem.n = 128; problem.k = 64;
  problem.precision = GemmPrecision::kBF16;
  const GemmAlgo algo = kernels::enumerate_algos(problem, 1, 4 << 20).at(0);
  const auto bytes = algo.to_bytes();
  const GemmAlgo from_bytes = GemmAlgo::from_bytes(bytes.data(), bytes.size());
  EXPECT_EQ(from_bytes.opaque, algo.opaque);
  EXPECT_EQ(from_bytes.workspace_bytes, algo.workspace_bytes);
  EXPECT_EQ(from_bytes.algo_id, algo.algo_id);
  const GemmAlgo from_json = GemmAlgo::from_json(algo.to_json());
  EXPECT_EQ(from_json.opaque, algo.opaque);
  EXPECT_EQ(from_json.cublaslt_version, algo.cublaslt_version);
  EXPECT_TRUE(kernels::CublasLtGemm::create(problem)->algo_is_supported(from_json));
}

TEST(KernelsGemm, BadAlgoRecordsThrow) {
  // Parsing needs no GPU.
  const std::vector<uint8_t> junk(100, 7);
  EXPECT_THROW(GemmAlgo::from_bytes(junk.data(), junk.size()), kiln::Error);
  EXPECT_THROW(GemmAlgo::from_bytes(junk.data(), 3), kiln::Error);
  EXPECT_THROW(GemmAlgo::from_json("{\"algo_id\": 1}"), kiln::Error);
  EXPECT_THROW(GemmAlgo::from_json("not json"), kiln::Error);
  EXPECT_THROW(GemmAlgo::from_json(R"({"cublaslt_version":1,"workspace_bytes":0,"algo_id":1,"opaque":"zz"})"),
               kiln::Error);
  GemmAlgo algo;
  algo.opaque[3] = 0xdeadbeef;
  algo.algo_id = 4;
  const auto bytes = algo.to_bytes();
  EXPECT_EQ(GemmAlgo::from_bytes(bytes.data(), bytes.size()).opaque, algo.opaque);
  EXPECT_EQ(GemmAlgo::from_json(algo.to_json()).opaque, algo.opaque);
}

}  // namespace
}  // namespace kiln::cuda::test
#endif  // KILN_HAVE_CUDA
