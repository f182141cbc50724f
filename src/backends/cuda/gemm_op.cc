#include "backends/cuda/gemm_op.h"

#include <map>
#include <mutex>

#include "backends/cuda/kernels/elementwise.h"
#include "backends/cuda/tactic_timer.h"

namespace kiln::cuda {

namespace {

constexpr size_t kGemmWorkspace = 32u << 20;
constexpr int kGemmCandidates = 8;  // heuristic results timed per batch bucket

// cuBLASLt algorithms are opaque 64-byte structs that its documentation allows to be
// stored and reused; plans hold them as 8 integers (the plan records the library version).
nlohmann::json algo_to_json(const cublasLtMatmulAlgo_t& algo) {
  return nlohmann::json(std::vector<uint64_t>(std::begin(algo.data), std::end(algo.data)));
}
cublasLtMatmulAlgo_t algo_from_json(const nlohmann::json& j) {
  cublasLtMatmulAlgo_t algo{};
  const auto words = j.get<std::vector<uint64_t>>();
  if (words.size() != std::size(algo.data)) throw nlohmann::json::other_error::create(501, "algo: 8 words expected", &j);
  std::copy(words.begin(), words.end(), std::begin(algo.data));
  return algo;
}

// The algorithm timed fastest for one batch bucket.
struct GemmTactic {
  int batch = 0;
  cublasLtMatmulAlgo_t algo{};
  double ms = 0;
};

struct BatchPlan {
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool timed = false;  // algo comes from build-time timing, not the first heuristic
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

  // Times cuBLASLt's top heuristic candidates at each tactic batch, as TensorRT's builder
  // does: the heuristic's first choice is often not the fastest for narrow GEMMs such as a
  // classifier head at small batch.
  void select_tactic(TacticTimer& timer) override {
    const std::vector<int> batches = timer.batches.empty() ? std::vector<int>{max_batch_} : timer.batches;
    std::vector<GemmTactic> chosen;
    for (int batch : batches) {
      const std::string key = fmt::format("gemm {} m{} k{} n{} ta{} tb{} bias{} act{} compute{}", dtype_name(in_dtype_),
                                          av_.dims_at(batch)[trans_a_ ? 1 : 0], k_, n_, trans_a_, trans_b_, c_ >= 0,
                                          static_cast<int>(act_.kind), static_cast<int>(compute_));
      if (const nlohmann::json* cached = timer.lookup(key)) {
        try {
          chosen.push_back({batch, algo_from_json(cached->at("algo")), cached->value("ms", 0.0)});
          continue;
        } catch (const nlohmann::json::exception&) {
          // a damaged entry is timed again
        }
      }
      GemmTactic best = time_batch(timer, batch);
      if (best.ms <= 0) continue;  // nothing timed: runs use the heuristic's choice
      chosen.push_back(best);
      timer.store(key, {{"algo", algo_to_json(best.algo)}, {"ms", best.ms}});
    }
    std::lock_guard<std::mutex> lock(mutex_);
    tactics_ = std::move(chosen);
    plans_.clear();
  }

  nlohmann::json tactic() const override {
    nlohmann::json list = nlohmann::json::array();
    for (const GemmTactic& t : tactics_) list.push_back({{"batch", t.batch}, {"algo", algo_to_json(t.algo)}, {"ms", t.ms}});
    return {{"gemm", list}};
  }
  void set_tactic(const nlohmann::json& j) override {
    std::vector<GemmTactic> list;
    if (j.is_object() && j.contains("gemm"))
      for (const auto& t : j.at("gemm")) list.push_back({t.at("batch").get<int>(), algo_from_json(t.at("algo")), t.value("ms", 0.0)});
    std::lock_guard<std::mutex> lock(mutex_);
    tactics_ = std::move(list);
    plans_.clear();
  }
  double tactic_ms() const override { return tactics_.empty() ? 0 : tactics_.back().ms; }
  std::string describe_tactic() const override {
    if (tactics_.empty()) return "cuBLASLt heuristic";
    const GemmTactic& t = tactics_.back();
    return fmt::format("cuBLASLt timed ({} candidates), {:.3f} ms at batch {}", kGemmCandidates, t.ms, t.batch);
  }

  void enqueue(const RunState& s) override { run(s, plan(s)); }

 private:
  void run(const RunState& s, const BatchPlan& p) {
    const std::string& where = label();
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

  // Matrix layouts of one batch size.
  std::unique_ptr<BatchPlan> layouts(int batch) {
    const std::string& where = label();
    auto p = std::make_unique<BatchPlan>();
    const int64_t m = av_.dims_at(batch)[trans_a_ ? 1 : 0];
    const cudaDataType_t t = cuda_dtype(in_dtype_);
    KILN_CUBLAS_CALL(where, trans_b_ ? cublasLtMatrixLayoutCreate(&p->b, t, k_, n_, k_)
                                     : cublasLtMatrixLayoutCreate(&p->b, t, n_, k_, n_));
    KILN_CUBLAS_CALL(where, trans_a_ ? cublasLtMatrixLayoutCreate(&p->a, t, m, k_, m)
                                     : cublasLtMatrixLayoutCreate(&p->a, t, k_, m, k_));
    KILN_CUBLAS_CALL(where, cublasLtMatrixLayoutCreate(&p->d, CUDA_R_32F, n_, m, n_));
    return p;
  }

  std::vector<cublasLtMatmulHeuristicResult_t> heuristics(cublasLtHandle_t handle, const BatchPlan& p, int count) {
    cublasLtMatmulPreference_t pref = nullptr;
    KILN_CUBLAS_CALL(label(), cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = kGemmWorkspace;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<size_t>(count));
    int found = 0;
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(handle, desc_, p.b, p.a, p.d, p.d, pref, count, results.data(), &found);
    cublasLtMatmulPreferenceDestroy(pref);
    KILN_CUBLAS_CALL(label(), st);
    results.resize(static_cast<size_t>(found));
    return results;
  }

  GemmTactic time_batch(TacticTimer& timer, int batch) {
    GemmTactic best;
    const int saved_batch = timer.state.batch;
    timer.state.batch = batch;
    std::unique_ptr<BatchPlan> p = layouts(batch);
    for (const auto& candidate : heuristics(timer.state.cublaslt, *p, kGemmCandidates)) {
      if (candidate.state != CUBLAS_STATUS_SUCCESS || candidate.workspaceSize > kGemmWorkspace) continue;
      p->algo = candidate.algo;
      double ms;
      try {
        ms = timer.time_ms([&] { run(timer.state, *p); });
      } catch (const Error&) {
        continue;  // a candidate that fails to launch is not a tactic
      }
      if (best.ms <= 0 || ms < best.ms) best = {batch, candidate.algo, ms};
    }
    timer.state.batch = saved_batch;
    return best;
  }

  BatchPlan& plan(const RunState& s) {
    // The bias pointer lives in the shared descriptor; contexts on other threads set the
    // same weight address, so concurrent writes agree.
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = plans_[s.batch];
    if (slot) return *slot;
    const std::string& where = label();
    std::unique_ptr<BatchPlan> p = layouts(s.batch);
    const int64_t m = av_.dims_at(s.batch)[trans_a_ ? 1 : 0];
    // The timed algorithm of this batch's bucket, if cuBLASLt accepts it at this exact m.
    if (!tactics_.empty()) {
      std::vector<int> batches;
      for (const GemmTactic& t : tactics_) batches.push_back(t.batch);
      const GemmTactic& t = tactics_[tactic_bucket(batches, s.batch)];
      cublasLtMatmulHeuristicResult_t check{};
      if (cublasLtMatmulAlgoCheck(s.cublaslt, desc_, p->b, p->a, p->d, p->d, &t.algo, &check) == CUBLAS_STATUS_SUCCESS &&
          check.workspaceSize <= kGemmWorkspace) {
        p->algo = t.algo;
        p->timed = true;
        slot = std::move(p);
        return *slot;
      }
    }
    const auto results = heuristics(s.cublaslt, *p, 1);
    if (results.empty())
      fail_with(ErrorCode::kUnimplemented, "{}: cuBLASLt has no algorithm for [{}x{}]x[{}x{}] in {}", where, m, k_, k_,
                n_, dtype_name(in_dtype_));
    const cublasLtMatmulHeuristicResult_t& result = results[0];
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
  std::vector<GemmTactic> tactics_;  // ascending batch buckets; empty: heuristic only
  std::map<int, std::unique_ptr<BatchPlan>> plans_;
};

}  // namespace

std::unique_ptr<DeviceOp> make_gemm_op(const ir::Node& node, const std::vector<DeviceValue>& values,
                                       Precision precision) {
  return std::make_unique<GemmOp>(node, values, precision);
}

}  // namespace kiln::cuda
