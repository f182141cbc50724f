// Row-major matrix products through cuBLASLt, with algorithm enumeration and timing for
// tactic selection, and algorithms that serialize so a plan can store its choice.
//
// Contract: D[M,N] = epilogue(alpha * op(A) * op(B) + beta * C), all row-major and dense.
// op(A) is A[M,K], or A stored as [K,M] when trans_a; op(B) is B[K,N], or B stored as
// [N,K] when trans_b (the ONNX Gemm / MatMul conventions). A, B, C and D share the
// storage type of the precision (f32 for kF32 and kTF32, f16, bf16); accumulation is
// always f32, and kTF32 lets the tensor cores round inputs to TF32. The bias of the
// BIAS epilogues is a device vector of N values of the storage type, added to every
// row. C may be null (then beta is ignored) or D itself.
//
// cuBLASLt computes in column-major; a row-major product D = A*B is the column-major
// product D^T = B^T * A^T over the same memory, so the wrapper swaps A and B.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/kernels/kernel_types.h"
#include "core/error.h"

namespace kiln::cuda::kernels {

enum class GemmPrecision : uint8_t { kF32, kTF32, kF16, kBF16 };
enum class GemmEpilogue : uint8_t { kDefault, kBias, kReluBias, kGeluBias };

std::string_view gemm_precision_name(GemmPrecision p);  // "f32", "tf32", "f16", "bf16"
DType gemm_storage_dtype(GemmPrecision p);

struct GemmProblem {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  GemmPrecision precision = GemmPrecision::kF32;
  GemmEpilogue epilogue = GemmEpilogue::kDefault;
  bool has_c = false;  // whether beta * C takes part (C may be D: in-place accumulate)
  // cuBLASLt may pick split-K reductions that add partial sums in nondeterministic
  // order; `deterministic` restricts it to algorithms without such reductions.
  bool deterministic = false;
  double flops() const { return 2.0 * double(m) * double(n) * double(k); }
};

// One cuBLASLt algorithm: the opaque 64-byte cublasLtMatmulAlgo_t, plus the numbers the
// heuristic reported, the cuBLASLt version that produced it, and readable config fields.
struct GemmAlgo {
  std::array<uint64_t, 8> opaque{};
  size_t workspace_bytes = 0;
  size_t cublaslt_version = 0;
  int algo_id = -1, tile_id = -1, stages_id = -1, splitk = -1;
  float measured_ms = -1.0f;  // filled by time_algos

  // Fixed-size little-endian bytes: magic "KGA1", version, workspace, opaque words.
  std::vector<uint8_t> to_bytes() const;
  static GemmAlgo from_bytes(const uint8_t* data, size_t size);  // throws kiln::Error
  std::string to_json() const;
  static GemmAlgo from_json(const std::string& json);  // throws kiln::Error
  std::string describe() const;  // "algo 21 tile 18 stages 8 splitk 1 ws 4096"
};

struct GemmBuffers {
  const void* a = nullptr;
  const void* b = nullptr;
  const void* c = nullptr;
  const void* bias = nullptr;
  void* d = nullptr;
  float alpha = 1.0f, beta = 0.0f;
};

// Owns a cuBLASLt handle and the descriptors of one problem. Create once (cold path,
// throws), then run() on the hot path (returns Status). Not thread-safe: one per thread.
class CublasLtGemm {
 public:
  static std::unique_ptr<CublasLtGemm> create(const GemmProblem& problem);
  ~CublasLtGemm();
  CublasLtGemm(const CublasLtGemm&) = delete;
  CublasLtGemm& operator=(const CublasLtGemm&) = delete;

  const GemmProblem& problem() const { return problem_; }

  // Up to `max_count` algorithms the heuristic proposes, best first, that fit the
  // workspace limit. Throws if the problem has none.
  std::vector<GemmAlgo> enumerate_algos(int max_count, size_t workspace_limit) const;

  // Runs each algo `iterations` times after a warm-up, on the given buffers, and returns
  // the fastest with measured_ms set (its median). Algorithms that fail are skipped;
  // throws if none ran. Synchronizes the stream.
  GemmAlgo time_algos(const std::vector<GemmAlgo>& algos, const GemmBuffers& buffers, void* workspace,
                      size_t workspace_bytes, cudaStream_t stream, int iterations = 10) const;

  // Checks that a stored algo is usable for this problem on this GPU and library.
  bool algo_is_supported(const GemmAlgo& algo) const;

  Status run(const GemmAlgo& algo, const GemmBuffers& buffers, void* workspace, size_t workspace_bytes,
             cudaStream_t stream) const;

 private:
  struct Impl;
  explicit CublasLtGemm(const GemmProblem& problem, std::unique_ptr<Impl> impl);
  GemmProblem problem_;
  std::unique_ptr<Impl> impl_;
};

// A GemmAlgo from a cublasLtMatmulAlgo_t (passed as its address) that the heuristic
// proposed, stamped with this cuBLASLt's version: for callers with their own descriptors
// (the INT8 IMMA convolutions) that still store algos the same way.
GemmAlgo gemm_algo_from_lt(const void* lt_algo, size_t workspace_bytes);

// Convenience free functions over a temporary CublasLtGemm.
std::vector<GemmAlgo> enumerate_algos(const GemmProblem& problem, int max_count, size_t workspace_limit);
GemmAlgo time_algos(const GemmProblem& problem, const std::vector<GemmAlgo>& algos, const GemmBuffers& buffers,
                    void* workspace, size_t workspace_bytes, cudaStream_t stream, int iterations = 10);

}  // namespace kiln::cuda::kernels
