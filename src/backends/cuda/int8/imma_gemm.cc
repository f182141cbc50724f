#include "backends/cuda/int8/imma_gemm.h"

#include <cstring>

#include "core/error.h"

namespace kiln::cuda::int8 {

namespace {

void check(cublasStatus_t status, const char* what, const ImmaConvSpec& s) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail_with(ErrorCode::kUnimplemented, "cuBLASLt {} m={} n={} k={}: {} failed: {}", s.fp8 ? "FP8" : "IMMA", s.k,
              s.pixels, s.c, what, cublasGetStatusName(status));
}

}  // namespace

const char* fp8_scaling_name(int scaling) {
  switch (scaling) {
    case kFp8OuterVectors: return "A/B scale vectors";
    case kFp8AlphaVector: return "alpha vector";
    case kFp8OuterVectorA: return "A scale vector";
    case kFp8ScalarOnly: return "no per-channel scale";
  }
  return "?";
}

ImmaConvGemm::ImmaConvGemm(const ImmaConvSpec& s, const void* bias, const float* a_scale, const float* d_scale,
                           const float* b_ones)
    : spec_(s), bias_(bias), a_scale_(a_scale), d_scale_(d_scale), b_ones_(b_ones) {
  const int64_t align = s.fp8 ? 16 : 4;
  if (s.k % align != 0 || s.c % align != 0)
    fail_with(ErrorCode::kUnimplemented, "cuBLASLt {}: m={} and k={} must be multiples of {}", s.fp8 ? "FP8" : "IMMA",
              s.k, s.c, align);
  if (s.fp8 && (s.residual || !a_scale || (!s.y_f16 && !d_scale)))
    fail_with(ErrorCode::kUnimplemented, "cuBLASLt FP8: no residual, and scale vectors are required");
  try {
    if (s.fp8) {
      if (s.fp8_scaling >= 0) {
        build_fp8(s.fp8_scaling);
        return;
      }
      for (int scaling : {kFp8OuterVectors, kFp8AlphaVector, kFp8OuterVectorA}) {  // algos() settles which
        try {
          build_fp8(scaling);
          return;
        } catch (const Error&) {
          if (scaling == kFp8OuterVectorA) throw;
        }
      }
    }
    check(cublasLtMatmulDescCreate(&op_, CUBLAS_COMPUTE_32I, CUDA_R_32F), "cublasLtMatmulDescCreate", s);
    const int32_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "TRANSA", s);
    check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "TRANSB", s);
    const int32_t mode = CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST;
    check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_POINTER_MODE, &mode, sizeof(mode)), "POINTER_MODE",
          s);
    const uint32_t epilogue = s.relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)), "EPILOGUE",
          s);
    check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)), "BIAS_POINTER",
          s);
    // A: the weights stored [K][C] = column-major C x K (ld C), used transposed.
    check(cublasLtMatrixLayoutCreate(&a_, CUDA_R_8I, s.c, s.k, s.c), "layout A", s);
    // B: the activations [P][C] = column-major C x P (ld C).
    check(cublasLtMatrixLayoutCreate(&b_, CUDA_R_8I, s.c, s.pixels, s.c), "layout B", s);
    // C and D: [P][K] = column-major K x P (ld K).
    check(cublasLtMatrixLayoutCreate(&c_, CUDA_R_8I, s.k, s.pixels, s.k), "layout C", s);
    check(cublasLtMatrixLayoutCreate(&d_, CUDA_R_8I, s.k, s.pixels, s.k), "layout D", s);
  } catch (...) {
    destroy();
    throw;
  }
}

void ImmaConvGemm::build_fp8(int scaling) const {
  destroy();
  scaling_ = scaling;
  const ImmaConvSpec& s = spec_;
  check(cublasLtMatmulDescCreate(&op_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate (FP8)", s);
  const int32_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "TRANSA", s);
  check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "TRANSB", s);
  const int32_t outer = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
  if (scaling == kFp8OuterVectors || scaling == kFp8OuterVectorA) {
    check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &outer, sizeof(outer)),
          "A_SCALE_MODE outer vector", s);
    check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &a_scale_, sizeof(a_scale_)),
          "A_SCALE_POINTER", s);
  }
  if (scaling == kFp8OuterVectors) {
    if (!b_ones_) fail_with(ErrorCode::kUnimplemented, "cuBLASLt FP8: B scale vectors need a vector of ones");
    check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &outer, sizeof(outer)),
          "B_SCALE_MODE outer vector", s);
    check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &b_ones_, sizeof(b_ones_)),
          "B_SCALE_POINTER", s);
  }
  if (scaling == kFp8AlphaVector) {
    const int32_t mode = CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST;
    check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_POINTER_MODE, &mode, sizeof(mode)),
          "POINTER_MODE alpha vector", s);
  }
  if (!s.y_f16)
    check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_D_SCALE_POINTER, &d_scale_, sizeof(d_scale_)),
          "D_SCALE_POINTER", s);
  const uint32_t epilogue = s.relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
  check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)), "EPILOGUE", s);
  check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_, sizeof(bias_)), "BIAS_POINTER",
        s);
  const int32_t bias_type = CUDA_R_16F;
  check(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)),
        "BIAS_DATA_TYPE f16", s);
  check(cublasLtMatrixLayoutCreate(&a_, CUDA_R_8F_E4M3, s.c, s.k, s.c), "layout A", s);
  check(cublasLtMatrixLayoutCreate(&b_, CUDA_R_8F_E4M3, s.c, s.pixels, s.c), "layout B", s);
  check(cublasLtMatrixLayoutCreate(&c_, CUDA_R_16F, s.k, s.pixels, s.k), "layout C", s);
  check(cublasLtMatrixLayoutCreate(&d_, s.y_f16 ? CUDA_R_16F : CUDA_R_8F_E4M3, s.k, s.pixels, s.k), "layout D", s);
}

void ImmaConvGemm::destroy() const {
  if (a_) cublasLtMatrixLayoutDestroy(a_);
  if (b_) cublasLtMatrixLayoutDestroy(b_);
  if (c_) cublasLtMatrixLayoutDestroy(c_);
  if (d_) cublasLtMatrixLayoutDestroy(d_);
  if (op_) cublasLtMatmulDescDestroy(op_);
  a_ = b_ = c_ = d_ = nullptr;
  op_ = nullptr;
}

ImmaConvGemm::~ImmaConvGemm() { destroy(); }

std::vector<kernels::GemmAlgo> ImmaConvGemm::algos(cublasLtHandle_t handle, int max_count,
                                                   size_t workspace_limit) const {
  if (!spec_.fp8 || spec_.fp8_scaling >= 0) return heuristic(handle, max_count, workspace_limit);
  // The first per-channel scheme this cuBLASLt accepts for the shape.
  std::string refusals;
  for (int scaling : {kFp8OuterVectors, kFp8AlphaVector, kFp8OuterVectorA}) {
    try {
      if (scaling != scaling_) build_fp8(scaling);
      return heuristic(handle, max_count, workspace_limit);
    } catch (const Error& e) {
      refusals += fmt::format("{}{}: {}", refusals.empty() ? "" : "; ", fp8_scaling_name(scaling), e.what());
    }
  }
  fail_with(ErrorCode::kUnimplemented, "cuBLASLt FP8: no scaling scheme accepted: {}", refusals);
}

std::vector<kernels::GemmAlgo> ImmaConvGemm::heuristic(cublasLtHandle_t handle, int max_count,
                                                       size_t workspace_limit) const {
  if (!op_) fail_with(ErrorCode::kUnimplemented, "cuBLASLt {}: no descriptor", describe());
  cublasLtMatmulPreference_t pref = nullptr;
  check(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate", spec_);
  std::unique_ptr<void, void (*)(void*)> guard(
      pref, [](void* p) { cublasLtMatmulPreferenceDestroy(static_cast<cublasLtMatmulPreference_t>(p)); });
  const uint64_t ws = workspace_limit;
  check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)),
        "workspace preference", spec_);
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<size_t>(max_count));
  int returned = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(handle, op_, a_, b_, c_, d_, pref, max_count,
                                                               results.data(), &returned);
  check(status, "cublasLtMatmulAlgoGetHeuristic", spec_);
  std::vector<kernels::GemmAlgo> out;
  for (int i = 0; i < returned; ++i)
    if (results[i].state == CUBLAS_STATUS_SUCCESS)
      out.push_back(kernels::gemm_algo_from_lt(&results[i].algo, results[i].workspaceSize));
  if (out.empty()) fail_with(ErrorCode::kUnimplemented, "cuBLASLt {}: the heuristic proposes no algorithm", describe());
  return out;
}

bool ImmaConvGemm::supports(cublasLtHandle_t handle, const kernels::GemmAlgo& algo) const {
  if (algo.cublaslt_version != cublasLtGetVersion()) return false;
  cublasLtMatmulAlgo_t lt;
  std::memcpy(&lt, algo.opaque.data(), sizeof(lt));
  cublasLtMatmulHeuristicResult_t result{};
  return cublasLtMatmulAlgoCheck(handle, op_, a_, b_, c_, d_, &lt, &result) == CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t ImmaConvGemm::run(cublasLtHandle_t handle, const kernels::GemmAlgo& algo, const ImmaConvPointers& p,
                                 void* workspace, size_t workspace_bytes, cudaStream_t stream) const {
  if (algo.workspace_bytes > workspace_bytes) return CUBLAS_STATUS_INVALID_VALUE;
  cublasLtMatmulAlgo_t lt;
  std::memcpy(&lt, algo.opaque.data(), sizeof(lt));
  // beta 0 with C = D: cuBLASLt does not read C then.
  const float beta = spec_.residual ? p.beta : 0.0f;
  const void* c = spec_.residual ? p.z : p.y;
  const float one = 1.0f;  // FP8: the scales are vectors of A (and B) and D's scalar, or alpha's vector
  const void* alpha = !spec_.fp8                  ? static_cast<const void*>(p.alpha)
                      : scaling_ == kFp8AlphaVector ? static_cast<const void*>(a_scale_)
                                                    : static_cast<const void*>(&one);
  return cublasLtMatmul(handle, op_, alpha, p.w, a_, p.x, b_, &beta, c, c_, p.y, d_, &lt, workspace, workspace_bytes,
                        stream);
}

std::string ImmaConvGemm::describe() const {
  return fmt::format("{}m={} n={} k={}{}{}{}", spec_.fp8 ? (spec_.y_f16 ? "fp8->f16 " : "fp8 ") : "", spec_.k,
                     spec_.pixels, spec_.c, spec_.residual ? " +z" : "", spec_.relu ? " relu" : "",
                     spec_.fp8 ? fmt::format(" ({})", fp8_scaling_name(scaling_)) : "");
}

}  // namespace kiln::cuda::int8
