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
// FP8 (spec.fp8, Hopper and Ada): the same TN GEMM with E4M3 A and B and f32 compute, the
// bias an f16 vector (the bias type FP8 kernels take with an f16 C), then relu or not; D is
// E4M3 with the device scalar D scale 1/s_y, or f16 unscaled. The per-channel scale
// (x_scale * w_scale[k]) is applied by the first of these schemes cuBLASLt's heuristic
// accepts (Fp8Scaling, in order): A and B scale vectors (CUBLASLT_MATMUL_MATRIX_SCALE_
// OUTER_VEC_32F; B's is a vector of ones), a device alpha vector as in IMMA, or an A vector
// alone. cuBLASLt's FP8 C is 16-bit, so an FP8 residual cannot be C: only convolutions
// without residual take this path.
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

// How an FP8 GEMM applies the per-channel scale. kFp8ScalarOnly applies none (a plain FP8
// GEMM: the probe's check that FP8 GEMMs run at all), never chosen by the engine.
enum Fp8Scaling : int { kFp8OuterVectors = 0, kFp8AlphaVector, kFp8OuterVectorA, kFp8ScalarOnly };
const char* fp8_scaling_name(int scaling);

struct ImmaConvSpec {
  int64_t k = 0;       // output channels (padded to 4): GEMM m
  int64_t pixels = 0;  // N*H*W: GEMM n
  int64_t c = 0;       // input channels (padded to 4): GEMM k
  bool residual = false;
  bool relu = false;
  bool fp8 = false;    // E4M3 operands (else INT8)
  bool y_f16 = false;  // fp8 only: f16 output instead of E4M3
  int fp8_scaling = -1;  // fp8 only: one Fp8Scaling, or -1 for the first of 0..2 that works
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
  // `b_ones` (FP8, kFp8OuterVectors): `pixels` floats equal to 1.
  ImmaConvGemm(const ImmaConvSpec& spec, const void* bias, const float* a_scale = nullptr,
               const float* d_scale = nullptr, const float* b_ones = nullptr);
  ~ImmaConvGemm();
  ImmaConvGemm(const ImmaConvGemm&) = delete;
  ImmaConvGemm& operator=(const ImmaConvGemm&) = delete;

  const ImmaConvSpec& spec() const { return spec_; }
  // Up to `max_count` heuristic algorithms within `workspace_limit`; throws if none. FP8:
  // the first call settles the scaling scheme (see above).
  std::vector<kernels::GemmAlgo> algos(cublasLtHandle_t handle, int max_count, size_t workspace_limit) const;
  bool supports(cublasLtHandle_t handle, const kernels::GemmAlgo& algo) const;
  // Returns the cuBLASLt status (CUBLAS_STATUS_SUCCESS on success).
  cublasStatus_t run(cublasLtHandle_t handle, const kernels::GemmAlgo& algo, const ImmaConvPointers& p,
                     void* workspace, size_t workspace_bytes, cudaStream_t stream) const;
  std::string describe() const;  // "m=K n=P k=C +z relu"

 private:
  void destroy() const;
  void build_fp8(int scaling) const;  // descriptors of one scheme
  std::vector<kernels::GemmAlgo> heuristic(cublasLtHandle_t handle, int max_count, size_t workspace_limit) const;

  ImmaConvSpec spec_;
  const void* bias_ = nullptr;
  const float *a_scale_ = nullptr, *d_scale_ = nullptr, *b_ones_ = nullptr;
  // FP8 descriptors are rebuilt while algos() settles the scaling scheme.
  mutable int scaling_ = -1;
  mutable cublasLtMatmulDesc_t op_ = nullptr;
  mutable cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr, d_ = nullptr;
};

}  // namespace kiln::cuda::int8
