// A 1x1, stride-1, unpadded INT8 convolution as one cuBLASLt IMMA GEMM with its epilogue
// fused:
//
//   NHWC activations are a row-major [P = N*H*W, C] matrix and KRSC weights (R=S=1) a
//   row-major [K, C] one, so in cuBLASLt's column-major terms
//     D[K x P] = alpha[K] .* (W^T-stored A[C x K])^T * X(B[C x P])  + beta * Z[K x P] + bias[K]
//   i.e. "TN" (A transposed, B not), the only layout IMMA takes in plain column order,
//   with m = K and k = C multiples of 4 and 4-byte aligned pointers.
//   alpha is a device vector of K floats (the per-channel scale with 1/s_y folded in;
//   CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST), beta a host float (z_scale / s_y)
//   with C = the INT8 residual, the bias a device vector of K floats (IMMA with INT8 C takes
//   the scale type for its bias), then relu (CUBLASLT_EPILOGUE_RELU_BIAS) or not; D is INT8,
//   rounded and saturated by cuBLASLt.
//
// FP8 (spec.fp8, Hopper and Ada): the same TN GEMM with E4M3 A and B and f32 compute; the
// per-channel scale is A's scale vector (CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F, K
// floats: x_scale * w_scale[k]), alpha 1, the bias an f16 vector (the bias type FP8 kernels
// take with an f16 C), then relu or not, and D is E4M3 with the device scalar D scale
// 1/s_y, or f16 unscaled. cuBLASLt's FP8 C is 16-bit, so an FP8 residual cannot be C:
// only convolutions without residual take this path.
//
// Algorithms are kernels::GemmAlgo, so tactics serialize them as the float GEMMs do.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "backends/cuda/kernels/gemm_cublaslt.h"

namespace kiln::cuda::int8 {

struct ImmaConvSpec {
  int64_t k = 0;       // output channels (padded to 4): GEMM m
  int64_t pixels = 0;  // N*H*W: GEMM n
  int64_t c = 0;       // input channels (padded to 4): GEMM k
  bool residual = false;
  bool relu = false;
  bool fp8 = false;    // E4M3 operands (else INT8)
  bool y_f16 = false;  // fp8 only: f16 output instead of E4M3
};

struct ImmaConvPointers {
  const void* w = nullptr;        // [k, c]
  const void* x = nullptr;        // [pixels, c]
  const void* z = nullptr;        // [pixels, k], when residual
  const float* alpha = nullptr;   // [k] (INT8 only)
  const float* bias = nullptr;    // [k] (unused: the descriptor holds the bias)
  float beta = 0.0f;              // residual scale
  void* y = nullptr;              // [pixels, k]
};

class ImmaConvGemm {
 public:
  // Throws kiln::Error naming the cuBLASLt call that refused. `bias` (f32, or f16 for FP8)
  // and the FP8 scales (`a_scale` [k], `d_scale` scalar, device memory) are fixed for the
  // descriptor's lifetime (the op owns them), so run() never mutates the descriptor and
  // contexts on several threads can share one ImmaConvGemm.
  ImmaConvGemm(const ImmaConvSpec& spec, const void* bias, const float* a_scale = nullptr,
               const float* d_scale = nullptr);
  ~ImmaConvGemm();
  ImmaConvGemm(const ImmaConvGemm&) = delete;
  ImmaConvGemm& operator=(const ImmaConvGemm&) = delete;

  const ImmaConvSpec& spec() const { return spec_; }
  // Up to `max_count` heuristic algorithms within `workspace_limit`; throws if none.
  std::vector<kernels::GemmAlgo> algos(cublasLtHandle_t handle, int max_count, size_t workspace_limit) const;
  bool supports(cublasLtHandle_t handle, const kernels::GemmAlgo& algo) const;
  // Returns the cuBLASLt status (CUBLAS_STATUS_SUCCESS on success).
  cublasStatus_t run(cublasLtHandle_t handle, const kernels::GemmAlgo& algo, const ImmaConvPointers& p,
                     void* workspace, size_t workspace_bytes, cudaStream_t stream) const;
  std::string describe() const;  // "m=K n=P k=C +z relu"

 private:
  void init_fp8(const void* bias_f16, const float* a_scale, const float* d_scale);

  ImmaConvSpec spec_;
  cublasLtMatmulDesc_t op_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr, d_ = nullptr;
};

}  // namespace kiln::cuda::int8
