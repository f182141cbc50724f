// The burn-in's checker on a GPU: the fill is deterministic, the mismatch counter finds
// exactly the corrupted words, and repeated GEMMs with the burn's algorithm are bitwise
// identical (the premise of comparing against the first result).
#if KILN_HAVE_CUDA
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <vector>

#include "backends/cuda/burn/burn_kernels.h"
#include "backends/cuda/burn/gpu_burn.h"
#include "backends/cuda/kernels/gemm_cublaslt.h"

namespace kiln::cuda::burn {
namespace {

#define REQUIRE_GPU() \
  if (cuda_gpu_count() == 0) GTEST_SKIP() << "no CUDA device"

unsigned long long mismatches(const void* a, const void* b, size_t words) {
  unsigned long long* counter = nullptr;
  EXPECT_EQ(cudaMalloc(&counter, sizeof(*counter)), cudaSuccess);
  cudaMemset(counter, 0, sizeof(*counter));
  EXPECT_EQ(count_mismatches(static_cast<const uint32_t*>(a), static_cast<const uint32_t*>(b), words, counter, nullptr),
            cudaSuccess);
  unsigned long long host = 0;
  EXPECT_EQ(cudaMemcpy(&host, counter, sizeof(host), cudaMemcpyDeviceToHost), cudaSuccess);
  cudaFree(counter);
  return host;
}

TEST(BurnChecks, CounterFindsExactlyTheCorruptedWords) {
  REQUIRE_GPU();
  const size_t words = 1000003;  // not a multiple of 4: the tail path counts too
  void *a = nullptr, *b = nullptr;
  ASSERT_EQ(cudaMalloc(&a, words * 4), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&b, words * 4), cudaSuccess);
  ASSERT_EQ(fill_uniform(a, words, false, 7, nullptr), cudaSuccess);
  ASSERT_EQ(fill_uniform(b, words, false, 7, nullptr), cudaSuccess);
  EXPECT_EQ(mismatches(a, b, words), 0u) << "same seed must give the same data";
  std::vector<float> host(16);
  ASSERT_EQ(cudaMemcpy(host.data(), a, 64, cudaMemcpyDeviceToHost), cudaSuccess);
  bool distinct = false;
  for (float v : host) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LT(v, 1.0f);
    distinct |= v != host[0];
  }
  EXPECT_TRUE(distinct);
  // Flip single bits in three words: one at the start, one in the middle, one in the tail.
  for (size_t word : {size_t(0), words / 2, words - 1}) {
    uint32_t v = 0;
    cudaMemcpy(&v, static_cast<uint32_t*>(b) + word, 4, cudaMemcpyDeviceToHost);
    v ^= 1u << 13;
    cudaMemcpy(static_cast<uint32_t*>(b) + word, &v, 4, cudaMemcpyHostToDevice);
  }
  EXPECT_EQ(mismatches(a, b, words), 3u);
  cudaFree(a);
  cudaFree(b);
}

TEST(BurnChecks, RepeatedGemmsAreBitwiseIdentical) {
  REQUIRE_GPU();
  for (auto precision : {kernels::GemmPrecision::kF16, kernels::GemmPrecision::kTF32}) {
    const int64_t n = 1024;
    const size_t elem = precision == kernels::GemmPrecision::kF16 ? 2 : 4;
    const size_t bytes = n * n * elem;
    void *a, *b, *d0, *d1, *ws;
    for (void** p : {&a, &b, &d0, &d1}) ASSERT_EQ(cudaMalloc(p, bytes), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&ws, 32 << 20), cudaSuccess);
    fill_uniform(a, n * n, elem == 2, 1, nullptr);
    fill_uniform(b, n * n, elem == 2, 2, nullptr);
    kernels::GemmProblem problem;
    problem.m = problem.n = problem.k = n;
    problem.precision = precision;
    problem.deterministic = true;
    auto gemm = kernels::CublasLtGemm::create(problem);
    const auto algo = gemm->enumerate_algos(1, 32 << 20).at(0);
    kernels::GemmBuffers buf{a, b, nullptr, nullptr, d0};
    ASSERT_TRUE(gemm->run(algo, buf, ws, 32 << 20, nullptr).ok());
    for (int i = 0; i < 5; ++i) {
      buf.d = d1;
      ASSERT_TRUE(gemm->run(algo, buf, ws, 32 << 20, nullptr).ok());
      EXPECT_EQ(mismatches(d0, d1, bytes / 4), 0u) << kernels::gemm_precision_name(precision) << " run " << i;
    }
    for (void* p : {a, b, d0, d1, ws}) cudaFree(p);
  }
}

}  // namespace
}  // namespace kiln::cuda::burn
#endif  // KILN_HAVE_CUDA
