#include "backends/cuda/gemm_op.h"

#include <map>
#include <mutex>

#include "backends/cuda/kernels/elementwise.h"

namespace kiln::cuda {

namespace {

constexpr size_t kGemmWorkspace = 32u << 20;

struct BatchPlan {
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  ~BatchPlan() {
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (d) cublasLtMatrixLayoutDestroy(d);
  }
};

class GemmOp : public DeviceOp {
 public:
  GemmOp(const ir::Node& node, const std::vector<DeviceValue>& values, Precision precision) {
    set_label(fmt::format("node \"{}\" ({})", node.name, node.op));
    const auto& at = node.attrs;
    const bool matmul = node.op == "MatMul";
    trans_a_ = !matmul && at.get_int("transA", 0) != 0;
    trans_b_ = !matmul && at.get_int("transB", 0) != 0;
    alpha_ = matmul ? 1.0f : at.get_float("alpha", 1.0f);
    a_ = node.inputs[0];
    b_ = node.inputs[1];
    c_ = node.has_input(2) ? node.inputs[2] : -1;
    y_ = node.outputs[0];
    reads = {a_, b_};
    writes = {y_};
    av_ = values[a_];
    yv_ = values[y_];
    in_dtype_ = av_.dtype;
    const Dims& bd = values[b_].dims;
    k_ = trans_b_ ? bd[1] : bd[0];
    n_ = trans_b_ ? bd[0] : bd[1];
    if (c_ >= 0 && num_elements(values[c_].dims) != n_)
      fail_with(ErrorCode::kUnimplemented, "{}: bias of shape {} (only a per-column bias of {} values runs on the GPU)",
                label(), dims_to_string(values[c_].dims), n_);
    std::string act_name = node.op == "FusedGemm" ? at.get_string("activation", "none") : "none";
    act_ = kernels::activation_from_name(act_name, at.get_float("act_alpha", 0), at.get_float("act_beta", 0));
    const bool relu = act_.kind == kernels::ActivationKind::kRelu;
    separate_act_ = act_.kind != kernels::ActivationKind::kNone && !relu;
    compute_ = precision == Precision::kTF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const std::string& where = label();
    KILN_CUBLAS_CALL(where, cublasLtMatmulDescCreate(&desc_, compute_, CUDA_R_32F));
    // cuBLASLt is column-major: row-major Y[M,N] = A'[M,K] B'[K,N] is computed as
    // column-major Y^T[N,M] = B'^T A'^T, so B comes first.
    cublasOperation_t op_first = trans_b_ ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_second = trans_a_ ? CUBLAS_OP_T : CUBLAS_OP_N;
    KILN_CUBLAS_CALL(where, cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &op_first, sizeof op_first));
    KILN_CUBLAS_CALL(where, cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &op_second, sizeof op_second));
    cublasLtEpilogue_t epi = c_ >= 0 ? (relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                                     : (relu ? CUBLASLT_EPILOGUE_RELU : CUBLASLT_EPILOGUE_DEFAULT);
    KILN_CUBLAS_CALL(where, cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    max_batch_ = static_cast<int>(av_.dims[0]);
  }
  ~GemmOp() override { cublasLtMatmulDescDestroy(desc_); }

  size_t workspace_bytes() const override { return kGemmWorkspace; }

  void enqueue(const RunState& s) override {
    const std::string& where = label();
    BatchPlan& p = plan(s);
    if (c_ >= 0) {
      const void* bias = s.at(c_);
      KILN_CUBLAS_CALL(where, cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    const float beta = 0.0f;
    void* y = s.at(y_);
    KILN_CUBLAS_CALL(where, cublasLtMatmul(s.cublaslt, desc_, &alpha_, s.at(b_), p.b, s.at(a_), p.a, &beta, y, p.d, y,
                                           p.d, &p.algo, s.workspace, std::min(s.workspace_bytes, kGemmWorkspace),
                                           s.stream));
    if (separate_act_)
      KILN_CUDA_CALL(where, kernels::activation(act_, DType::kF32, num_elements(yv_.dims_at(s.batch)), y, y, s.stream));
  }

 private:
  BatchPlan& plan(const RunState& s) {
    // The bias pointer lives in the shared descriptor; contexts on other threads set the
    // same weight address, so concurrent writes agree.
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = plans_[s.batch];
    if (slot) return *slot;
    const std::string& where = label();
    auto p = std::make_unique<BatchPlan>();
    const int64_t m = av_.dims_at(s.batch)[trans_a_ ? 1 : 0];
    const cudaDataType_t t = cuda_dtype(in_dtype_);
    KILN_CUBLAS_CALL(where, trans_b_ ? cublasLtMatrixLayoutCreate(&p->b, t, k_, n_, k_)
                                     : cublasLtMatrixLayoutCreate(&p->b, t, n_, k_, n_));
    KILN_CUBLAS_CALL(where, trans_a_ ? cublasLtMatrixLayoutCreate(&p->a, t, m, k_, m)
                                     : cublasLtMatrixLayoutCreate(&p->a, t, k_, m, k_));
    KILN_CUBLAS_CALL(where, cublasLtMatrixLayoutCreate(&p->d, CUDA_R_32F, n_, m, n_));
    cublasLtMatmulPreference_t pref = nullptr;
    KILN_CUBLAS_CALL(where, cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = kGemmWorkspace;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(s.cublaslt, desc_, p->b, p->a, p->d, p->d, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    KILN_CUBLAS_CALL(where, st);
    if (found == 0)
      fail_with(ErrorCode::kUnimplemented, "{}: cuBLASLt has no algorithm for [{}x{}]x[{}x{}] in {}", where, m, k_, k_,
                n_, dtype_name(in_dtype_));
    p->algo = result.algo;
    slot = std::move(p);
    return *slot;
  }

  int a_ = -1, b_ = -1, c_ = -1, y_ = -1;
  bool trans_a_ = false, trans_b_ = false, separate_act_ = false;
  float alpha_ = 1.0f;
  int64_t k_ = 0, n_ = 0;
  int max_batch_ = 1;
  DeviceValue av_, yv_;
  DType in_dtype_ = DType::kF32;
  kernels::Activation act_;
  cublasComputeType_t compute_ = CUBLAS_COMPUTE_32F;
  cublasLtMatmulDesc_t desc_ = nullptr;
  std::mutex mutex_;
  std::map<int, std::unique_ptr<BatchPlan>> plans_;
};

}  // namespace

std::unique_ptr<DeviceOp> make_gemm_op(const ir::Node& node, const std::vector<DeviceValue>& values,
                                       Precision precision) {
  return std::make_unique<GemmOp>(node, values, precision);
}

}  // namespace kiln::cuda
