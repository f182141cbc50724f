#include "backends/cuda/int8/int8_ops.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>

#include "backends/cuda/int8/cudnn_int8_graph.h"
#include "backends/cuda/int8/igemm_conv.h"
#include "backends/cuda/int8/imma_gemm.h"
#include "backends/cuda/int8/int8_kernels.h"
#include "backends/cuda/int8/int8_tactic_family.h"
#include "backends/cuda/int8/quantize_op.h"
#include "backends/cuda/kernels/gemm_cublaslt.h"
#include "backends/cuda/tactic_timer.h"

namespace kiln::cuda {

namespace {

using int8::Family;
using int8::family_name;
using int8::forced_family;
using int8::graph_candidate_cap;

int64_t pixels_of(const DeviceValue& v, int batch) {
  const Dims d = v.dims_at(batch);
  return d[0] * d[2] * d[3];
}

constexpr int kImmaCandidates = 8;

// What runs at one batch size: descriptors of the legacy path, and the plan or GEMM of a
// fused family built for this batch (lazily, from the stored engine/algo).
struct Int8Descs {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  bool use_fallback = false;  // the chosen family could not be built at this batch: direct kernel
  std::string fallback_reason;
  std::unique_ptr<int8::FusedConvGraph> graph;  // before plan: destroyed after it
  std::unique_ptr<int8::FusedConvPlan> plan;
  std::unique_ptr<int8::ImmaConvGemm> gemm;
  kernels::GemmAlgo gemm_algo;
  ~Int8Descs() {
    plan.reset();
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
  }
};

class Int8ConvOp : public DeviceOp {
 public:
  Int8ConvOp(const ir::Node& node, const std::vector<DeviceValue>& values) {
    set_label(fmt::format("node \"{}\" ({})", node.name, node.op));
    const std::string& where = label();
    x_ = node.inputs.at(0);
    w_ = node.inputs.at(1);
    scale_ = node.inputs.at(2);
    bias_ = node.inputs.at(3);
    z_ = node.has_input(4) ? node.inputs[4] : -1;
    y_ = node.outputs.at(0);
    acc_ = node.outputs.at(1);
    reads = {x_, w_, scale_, bias_};
    if (z_ >= 0) reads.push_back(z_);
    writes = {y_, acc_};
    xv_ = values[x_];
    accv_ = values[acc_];
    const DeviceValue& w = values[w_];
    fp8_ = xv_.dtype == DType::kFP8E4M3;
    if ((xv_.dtype != DType::kI8 && !fp8_) || w.dtype != xv_.dtype)
      fail_with(ErrorCode::kInternal, "{}: expects int8 (or fp8e4m3) input and weights of one type", where);
    y_quant_ = values[y_].dtype == xv_.dtype;
    k_ = static_cast<int>(y_quant_ ? accv_.dims[1] : values[y_].dims[1]);
    k_pad_ = static_cast<int>(accv_.dims[1]);
    if (z_ >= 0) {
      const DType zt = values[z_].dtype;
      z_kind_ = zt == DType::kI8           ? int8::ResidualKind::kInt8
                : zt == DType::kFP8E4M3 ? int8::ResidualKind::kFp8
                                        : int8::ResidualKind::kF16;
      z_channels_ = static_cast<int>(values[z_].dims[1]);
    }
    const auto& a = node.attrs;
    relu_ = a.get_int("relu", 0) != 0;
    y_inv_scale_ = a.get_float("y_inv_scale", 1.0f);
    z_scale_ = a.get_float("z_scale", 1.0f);
    const auto pads = a.get_ints("pads", {0, 0, 0, 0});
    const auto strides = a.get_ints("strides", {1, 1});
    const auto dil = a.get_ints("dilations", {1, 1});
    if (!fp8_) {  // the legacy family's descriptors
      KILN_CUDNN_CALL(where, cudnnCreateFilterDescriptor(&wdesc_));
      KILN_CUDNN_CALL(where, cudnnSetFilter4dDescriptor(wdesc_, CUDNN_DATA_INT8, CUDNN_TENSOR_NHWC,
                                                        static_cast<int>(w.dims[0]), static_cast<int>(w.dims[1]),
                                                        static_cast<int>(w.dims[2]), static_cast<int>(w.dims[3])));
      KILN_CUDNN_CALL(where, cudnnCreateConvolutionDescriptor(&cdesc_));
      KILN_CUDNN_CALL(where,
                      cudnnSetConvolution2dDescriptor(cdesc_, static_cast<int>(pads[0]), static_cast<int>(pads[1]),
                                                      static_cast<int>(strides[0]), static_cast<int>(strides[1]),
                                                      static_cast<int>(dil[0]), static_cast<int>(dil[1]),
                                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_INT32));
    }
    direct_params_.r = static_cast<int>(w.dims[2]);
    direct_params_.s = static_cast<int>(w.dims[3]);
    direct_params_.pad_h = static_cast<int>(pads[0]);
    direct_params_.pad_w = static_cast<int>(pads[1]);
    direct_params_.stride_h = static_cast<int>(strides[0]);
    direct_params_.stride_w = static_cast<int>(strides[1]);
    direct_params_.dil_h = static_cast<int>(dil[0]);
    direct_params_.dil_w = static_cast<int>(dil[1]);
    // The fused families compute the epilogue too, so it is part of the key ("int8conv2":
    // entries of the conv-only tactics, timed before these families existed, are not reused).
    key_ = fmt::format("{} x{} w{} pads{},{} s{},{} d{},{} y{}{} z{} relu{}", fp8_ ? "fp8conv1" : "int8conv2",
                       dims_to_string(xv_.dims), dims_to_string(w.dims), pads[0], pads[1], strides[0], strides[1],
                       dil[0], dil[1], y_quant_ ? (fp8_ ? "e4m3" : "i8") : "f16", k_, static_cast<int>(z_kind_),
                       relu_ ? 1 : 0);
    max_batch_ = static_cast<int>(xv_.dims[0]);
  }
  ~Int8ConvOp() override {
    descs_.clear();
    if (wdesc_) cudnnDestroyFilterDescriptor(wdesc_);
    if (cdesc_) cudnnDestroyConvolutionDescriptor(cdesc_);
    if (folded_) cudaFree(folded_);
    if (ones_) cudaFree(ones_);
  }

  size_t workspace_bytes() const override { return workspace_; }

  nlohmann::json tactic() const override {
    nlohmann::json t = {{"family", family_name(family_, fp8_)}, {"workspace", workspace_}};
    switch (family_) {
      case Family::kLegacy: t["algo"] = static_cast<int>(algo_); break;
      case Family::kDirect: t["algo"] = -1; break;
      case Family::kCudnnGraph: t.update(engine_.to_json()); break;
      case Family::kCublasLt: t["algo"] = nlohmann::json::parse(gemm_algo_.to_json()); break;
      case Family::kIgemm: t["tile"] = int8::igemm_tile_name(igemm_tile_); break;
    }
    return t;
  }
  // Plans saved before the fused families store {"algo": N, "workspace": W}: no "family"
  // means legacy (algo -1: the direct kernel).
  void set_tactic(const nlohmann::json& t) override {
    try {
      const std::string family = t.value("family", "legacy");
      if (family == "legacy" || family == "direct") {
        const int algo = t.at("algo").get<int>();
        family_ = algo < 0 || family == "direct" ? Family::kDirect : Family::kLegacy;
        if (family_ == Family::kLegacy) algo_ = static_cast<cudnnConvolutionFwdAlgo_t>(algo);
      } else if (family == "cudnn_graph") {
        family_ = Family::kCudnnGraph;
        engine_ = int8::EngineChoice::from_json(t);
      } else if (family == "cublaslt_imma" || family == "cublaslt_fp8") {
        family_ = Family::kCublasLt;
        gemm_algo_ = kernels::GemmAlgo::from_json(t.at("algo").dump());
      } else if (family == "igemm") {
        // By name: plans and timing caches stay valid when tiles are added or reordered.
        const std::string name = t.at("tile").get<std::string>();
        const int tile = int8::igemm_tile_index(name);
        if (tile < 0) fail("{}: igemm tile \"{}\" unknown to this build", label(), name);
        family_ = Family::kIgemm;
        igemm_tile_ = tile;
      } else {
        fail("{}: unknown INT8 tactic family \"{}\"", label(), family);
      }
      workspace_ = t.value("workspace", size_t{0});
    } catch (const nlohmann::json::exception& e) {
      fail("{}: damaged {} tactic {}: {}", label(), fp8_ ? "FP8" : "INT8", t.dump(), e.what());
    }
    std::lock_guard<std::mutex> lock(mutex_);
    descs_.clear();  // per-batch plans of another tactic
  }

  double tactic_ms() const override { return ms_; }
  std::string describe_tactic() const override {
    std::string what;
    switch (family_) {
      case Family::kLegacy: what = fmt::format("legacy algo {}", static_cast<int>(algo_)); break;
      case Family::kDirect: what = "direct kernel"; break;
      case Family::kCudnnGraph: what = "cudnn_graph " + engine_.describe(); break;
      case Family::kCublasLt: what = std::string(family_name(family_, fp8_)) + " " + gemm_algo_.describe(); break;
      case Family::kIgemm: what = "igemm tile " + int8::igemm_tile_name(igemm_tile_); break;
    }
    std::string out = (fp8_ ? "fp8 " : "int8 ") + what;
    if (ms_ > 0) out += fmt::format(", {:.3f} ms", ms_);
    if (timed_ > 0) out += fmt::format(" (best of {})", timed_);
    if (!skipped_.empty()) {
      out += fmt::format("; {} skipped: ", skipped_.size());
      for (size_t i = 0; i < skipped_.size() && i < 3; ++i) out += (i ? " | " : "") + skipped_[i].substr(0, 240);
      if (skipped_.size() > 3) out += " | ...";
    }
    return out;
  }

  void select_tactic(TacticTimer& timer) override {
    const std::optional<Family> forced = forced_family();
    const std::string key = forced ? key_ + " forced " + family_name(*forced, fp8_) : key_;
    if (const nlohmann::json* cached = timer.lookup(key)) {
      set_tactic(*cached);
      ms_ = cached->value("ms", 0.0);
      skipped_ = cached->value("skipped", std::vector<std::string>{});
      return;
    }
    RunState& state = timer.state;
    state.batch = max_batch_;
    skipped_.clear();
    timed_ = 0;
    Best best;
    const auto want = [&](Family f) { return !forced || *forced == f; };
    if (want(Family::kCudnnGraph)) try_graph(timer, best);
    if (want(Family::kCublasLt)) try_imma(timer, best);
    if (want(Family::kIgemm)) try_igemm(timer, best);
    if (!fp8_ && (want(Family::kLegacy) || (forced && best.ms < 0 && *forced != Family::kDirect))) {
      if (forced && *forced != Family::kLegacy)
        skipped_.push_back(fmt::format("forced family {} unavailable: using the others", family_name(*forced)));
      try_legacy(timer, best);
    } else if (fp8_ && forced && best.ms < 0 && *forced != Family::kDirect) {
      skipped_.push_back(fmt::format("forced family {} unavailable for FP8: direct kernel", family_name(*forced, true)));
    }
    if (best.ms < 0 || (forced && *forced == Family::kDirect)) {  // slow but always there
      family_ = Family::kDirect;
      workspace_ = 0;
      best = Best{};
      best.ms = timer.time_ms([&] { run_direct(state); });
      best.tactic = tactic();
      ++timed_;
    }
    set_tactic(best.tactic);
    ms_ = best.ms;
    {  // the winner at max batch is kept: no second compile of the same plan
      std::lock_guard<std::mutex> lock(mutex_);
      if (best.graph && best.plan) {
        auto d = make_descs(max_batch_);
        d->graph = std::move(best.graph);
        d->plan = std::move(best.plan);
        descs_[max_batch_] = std::move(d);
      } else if (best.gemm) {
        auto d = make_descs(max_batch_);
        d->gemm = std::move(best.gemm);
        d->gemm_algo = gemm_algo_;
        descs_[max_batch_] = std::move(d);
      }
    }
    nlohmann::json stored = tactic();
    stored["ms"] = best.ms;
    if (!skipped_.empty()) stored["skipped"] = skipped_;
    timer.store(key, stored);
  }

  void enqueue(const RunState& s) override {
    const Int8Descs& d = descs(s);
    if (d.use_fallback || family_ == Family::kDirect) return run_direct(s);
    switch (family_) {
      case Family::kLegacy: return run_legacy(s, d, algo_, workspace_);
      case Family::kCudnnGraph: return run_graph(s, *d.plan);
      case Family::kCublasLt: return run_imma(s, *d.gemm, d.gemm_algo);
      case Family::kIgemm: return run_igemm(s, igemm_tile_);
      case Family::kDirect: break;
    }
  }

 private:
  struct Best {
    double ms = -1;
    nlohmann::json tactic;
    std::unique_ptr<int8::FusedConvGraph> graph;
    std::unique_ptr<int8::FusedConvPlan> plan;
    std::unique_ptr<int8::ImmaConvGemm> gemm;
  };

  // Keeps the candidate if it beat the best so far (the op's current tactic fields
  // describe it when this is called).
  bool keep_if_best(Best& best, double ms) {
    ++timed_;
    if (best.ms >= 0 && ms >= best.ms) return false;
    best.ms = ms;
    best.tactic = tactic();
    return true;
  }

  void try_legacy(TacticTimer& timer, Best& best) {
    RunState& state = timer.state;
    const std::unique_ptr<Int8Descs> owned = make_descs(max_batch_);
    const Int8Descs& d = *owned;
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    std::vector<cudnnConvolutionFwdAlgo_t> candidates;
    if (cudnnGetConvolutionForwardAlgorithm_v7(state.cudnn, d.x, wdesc_, cdesc_, d.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                               &found, perf) == CUDNN_STATUS_SUCCESS)
      for (int i = 0; i < found; ++i)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) candidates.push_back(perf[i].algo);
    // The configuration cuDNN documents for INT8, tried even when the heuristics stay silent.
    if (std::find(candidates.begin(), candidates.end(), CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) ==
        candidates.end())
      candidates.push_back(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);
    for (cudnnConvolutionFwdAlgo_t algo : candidates) {
      size_t ws = 0;
      if (cudnnGetConvolutionForwardWorkspaceSize(state.cudnn, d.x, wdesc_, cdesc_, d.y, algo, &ws) !=
          CUDNN_STATUS_SUCCESS) {
        skipped_.push_back(fmt::format("legacy algo {}: no workspace size", static_cast<int>(algo)));
        continue;
      }
      if (ws > timer.workspace_limit) continue;
      double ms;
      try {
        ms = timer.time_ms([&] { run_legacy(state, d, algo, ws); });
      } catch (const Error& e) {
        skipped_.push_back(fmt::format("legacy algo {}: {}", static_cast<int>(algo), e.what()));
        continue;
      }
      family_ = Family::kLegacy;
      algo_ = algo;
      workspace_ = ws;
      if (keep_if_best(best, ms)) {
        best.graph.reset();
        best.plan.reset();
        best.gemm.reset();
      }
    }
  }

  void try_graph(TacticTimer& timer, Best& best) {
    RunState& state = timer.state;
    std::unique_ptr<int8::FusedConvGraph> graph;
    std::vector<int8::EngineChoice> choices;
    try {
      ensure_folded(state);
      graph = std::make_unique<int8::FusedConvGraph>(int8::graph_build_handle(), graph_spec(max_batch_));
      std::vector<std::string> notes;
      choices = graph->candidates(graph_candidate_cap(), &notes);
      for (const std::string& n : notes) skipped_.push_back(fmt::format("cudnn_graph {}", n));
      if (choices.empty()) skipped_.push_back("cudnn_graph: no engine for " + graph->spec().describe());
    } catch (const Error& e) {
      skipped_.push_back(fmt::format("cudnn_graph: {}", e.what()));
      return;
    }
    for (const int8::EngineChoice& choice : choices) {
      std::unique_ptr<int8::FusedConvPlan> plan;
      double ms;
      try {
        plan = graph->make_plan(choice);
        if (plan->workspace_bytes() > timer.workspace_limit)
          fail("workspace {} bytes above the limit {}", plan->workspace_bytes(), timer.workspace_limit);
        ms = timer.time_ms([&] { run_graph(state, *plan); });
      } catch (const Error& e) {
        skipped_.push_back(fmt::format("cudnn_graph {} ({}): {}", choice.describe(), choice.source, e.what()));
        continue;
      }
      family_ = Family::kCudnnGraph;
      engine_ = choice;
      workspace_ = plan->workspace_bytes();
      if (keep_if_best(best, ms)) {
        best.plan = std::move(plan);
        best.gemm.reset();
      }
    }
    // A graph plan is the best so far only if it came from this loop; it keeps its graph.
    if (best.plan) best.graph = std::move(graph);
  }

  void try_imma(TacticTimer& timer, Best& best) {
    RunState& state = timer.state;
    std::string why_not = imma_ineligible();
    if (!why_not.empty()) {
      // Only worth a note when the family was asked for or could have applied.
      if (forced_family()) skipped_.push_back("cublaslt_imma: " + why_not);
      return;
    }
    const char* name = family_name(Family::kCublasLt, fp8_);
    std::unique_ptr<int8::ImmaConvGemm> gemm;
    std::vector<kernels::GemmAlgo> algos;
    try {
      ensure_folded(state);
      gemm = make_gemm(state, max_batch_);
      algos = gemm->algos(state.cublaslt, kImmaCandidates, timer.workspace_limit);
    } catch (const Error& e) {
      skipped_.push_back(fmt::format("{}: {}", name, e.what()));
      return;
    }
    bool kept = false;
    for (const kernels::GemmAlgo& algo : algos) {
      double ms;
      try {
        ms = timer.time_ms([&] { run_imma(state, *gemm, algo); });
      } catch (const Error& e) {
        skipped_.push_back(fmt::format("{} {}: {}", name, algo.describe(), e.what()));
        continue;
      }
      family_ = Family::kCublasLt;
      gemm_algo_ = algo;
      gemm_algo_.measured_ms = static_cast<float>(ms);
      workspace_ = algo.workspace_bytes;
      if (keep_if_best(best, ms)) {
        best.graph.reset();
        best.plan.reset();
        kept = true;
      }
    }
    if (kept && best.tactic.value("family", "") == name) best.gemm = std::move(gemm);
  }

  void try_igemm(TacticTimer& timer, Best& best) {
    RunState& state = timer.state;
    const std::string why_not = int8::igemm_unsupported(igemm_params(state));
    if (!why_not.empty()) {
      skipped_.push_back("igemm: " + why_not);
      return;
    }
    for (int tile = 0; tile < int8::igemm_tile_count(); ++tile) {
      // Tiles made for other shapes (stream tiles: pointwise only) are not candidates.
      if (!int8::igemm_tile_unsupported(igemm_params(state), tile).empty()) continue;
      double ms;
      try {
        ms = timer.time_ms([&] { run_igemm(state, tile); });
      } catch (const Error& e) {
        skipped_.push_back(fmt::format("igemm tile {}: {}", int8::igemm_tile_name(tile), e.what()));
        continue;
      }
      family_ = Family::kIgemm;
      igemm_tile_ = tile;
      workspace_ = 0;
      if (keep_if_best(best, ms)) {
        best.graph.reset();
        best.plan.reset();
        best.gemm.reset();
      }
    }
  }

  // The igemm kernel's parameters at the state's batch: the direct kernel's geometry and
  // the epilogue of epilogue() below.
  int8::IgemmConvParams igemm_params(const RunState& s) const {
    const Dims xd = xv_.dims_at(s.batch), yd = accv_.dims_at(s.batch);
    int8::IgemmConvParams p;
    p.n = static_cast<int>(xd[0]);
    p.c = static_cast<int>(xd[1]);
    p.h = static_cast<int>(xd[2]);
    p.w = static_cast<int>(xd[3]);
    p.k = y_quant_ ? k_pad_ : k_;
    p.r = direct_params_.r;
    p.s = direct_params_.s;
    p.ho = static_cast<int>(yd[2]);
    p.wo = static_cast<int>(yd[3]);
    p.pad_h = direct_params_.pad_h;
    p.pad_w = direct_params_.pad_w;
    p.stride_h = direct_params_.stride_h;
    p.stride_w = direct_params_.stride_w;
    p.dil_h = direct_params_.dil_h;
    p.dil_w = direct_params_.dil_w;
    p.fp8 = fp8_;
    p.scale = static_cast<const float*>(s.at(scale_));
    p.bias = static_cast<const float*>(s.at(bias_));
    p.z = z_ >= 0 ? s.at(z_) : nullptr;
    p.z_kind = z_kind_;
    p.z_stride = z_channels_;
    p.z_scale = z_scale_;
    p.relu = relu_;
    p.y = s.at(y_);
    p.y_stride = p.k;
    p.y_kind = !y_quant_ ? int8::IgemmOutput::kF16 : fp8_ ? int8::IgemmOutput::kFp8 : int8::IgemmOutput::kInt8;
    p.y_inv_scale = y_inv_scale_;
    return p;
  }

  void run_igemm(const RunState& s, int tile) {
    KILN_CUDA_CALL(label(), int8::igemm_conv(igemm_params(s), tile, s.at(x_), s.at(w_), s.stream));
  }

  // The GEMM of the cuBLASLt family at `batch`: INT8 takes the folded bias (alpha is a
  // per-call vector); FP8 the weights' scale vector, the f16 bias and the D scale, which
  // ensure_folded() prepared.
  std::unique_ptr<int8::ImmaConvGemm> make_gemm(const RunState& s, int batch) {
    if (!fp8_) return std::make_unique<int8::ImmaConvGemm>(imma_spec(batch), folded_ + k_pad_);
    return std::make_unique<int8::ImmaConvGemm>(imma_spec(batch), folded_ + 3 * k_pad_,
                                                static_cast<const float*>(s.at(scale_)), folded_ + 4 * k_pad_,
                                                ones(s));
  }

  // FP8 GEMMs with B scale vectors: one 1.0 per pixel at the max batch, made once.
  const float* ones(const RunState& s) {
    std::lock_guard<std::mutex> lock(fold_mutex_);
    if (ones_) return ones_;
    const std::vector<float> host(static_cast<size_t>(pixels_of(accv_, max_batch_)), 1.0f);
    float* buf = nullptr;
    KILN_CUDA_CALL(label(), cudaMalloc(&buf, sizeof(float) * host.size()));
    const cudaError_t st = cudaMemcpy(buf, host.data(), sizeof(float) * host.size(), cudaMemcpyHostToDevice);
    if (st != cudaSuccess) {
      cudaFree(buf);
      KILN_CUDA_CALL(label(), st);
    }
    ones_ = buf;
    return ones_;
  }

  // Empty when the convolution fits the cuBLASLt GEMM: 1x1, stride 1, no padding; INT8:
  // INT8 out and residual (if any) INT8; FP8: no residual (FP8 or f16 out).
  std::string imma_ineligible() const {
    const auto& p = direct_params_;
    if (p.r != 1 || p.s != 1 || p.stride_h != 1 || p.stride_w != 1 || p.pad_h != 0 || p.pad_w != 0 ||
        p.dil_h != 1 || p.dil_w != 1)
      return "not a 1x1 stride-1 unpadded convolution";
    if (fp8_) return z_ >= 0 ? "residual (cuBLASLt's FP8 C is 16-bit)" : "";
    if (!y_quant_) return "f16 output";
    if (z_kind_ == int8::ResidualKind::kF16) return "f16 residual";
    return {};
  }

  int8::FusedConvSpec graph_spec(int batch) const {
    const Dims xd = xv_.dims_at(batch), yd = accv_.dims_at(batch);
    int8::FusedConvSpec sp;
    sp.n = xd[0];
    sp.c = xd[1];
    sp.h = xd[2];
    sp.w = xd[3];
    // INT8 outputs are stored with k_pad channels (zero filters give zeros); f16 ones with k,
    // computed by the first k of the stored (padded) filters.
    sp.k = y_quant_ ? k_pad_ : k_;
    sp.r = direct_params_.r;
    sp.s = direct_params_.s;
    sp.w_filter_stride = sp.r * sp.s * sp.c;
    sp.ho = yd[2];
    sp.wo = yd[3];
    sp.pad_h = direct_params_.pad_h;
    sp.pad_w = direct_params_.pad_w;
    sp.stride_h = direct_params_.stride_h;
    sp.stride_w = direct_params_.stride_w;
    sp.dil_h = direct_params_.dil_h;
    sp.dil_w = direct_params_.dil_w;
    sp.relu = relu_;
    const cudnnDataType_t q = fp8_ ? CUDNN_DATA_FP8_E4M3 : CUDNN_DATA_INT8;
    sp.io_type = q;
    sp.compute_type = fp8_ ? CUDNN_DATA_FLOAT : CUDNN_DATA_INT32;
    sp.y_type = y_quant_ ? q : CUDNN_DATA_HALF;
    if (fp8_ && y_quant_) sp.y_clip = 448.0f;
    if (z_ >= 0) {
      sp.residual = true;
      sp.z_type = z_kind_ == int8::ResidualKind::kF16 ? CUDNN_DATA_HALF : q;
      sp.z_channel_stride = z_channels_;
      if (z_channels_ < sp.k)
        fail_with(ErrorCode::kUnimplemented, "residual has {} channels, output {}", z_channels_, sp.k);
    }
    return sp;
  }

  int8::ImmaConvSpec imma_spec(int batch) const {
    int8::ImmaConvSpec sp;
    sp.k = k_pad_;
    sp.c = xv_.dims_at(batch)[1];
    sp.pixels = pixels_of(accv_, batch);
    sp.residual = z_ >= 0;
    sp.relu = relu_;
    sp.fp8 = fp8_;
    sp.y_f16 = !y_quant_;
    if (fp8_ && !y_quant_) sp.k = k_;
    return sp;
  }

  // Folded epilogue constants (int8_kernels.h fold_epilogue_constants), computed once from
  // the op's weights on first use. f16 outputs are not requantized, so nothing is folded.
  // Scale and bias are weights, at the same address in every context, so one folded copy
  // serves them all. The stream is synchronized: other contexts' streams may use it next.
  void ensure_folded(const RunState& s) {
    std::lock_guard<std::mutex> lock(fold_mutex_);
    if (folded_) return;
    const std::string& where = label();
    float* buf = nullptr;
    // scale', bias', z_scale' (k_pad each); FP8 also the f16 bias (in k_pad floats) and D's scale.
    KILN_CUDA_CALL(where, cudaMalloc(&buf, sizeof(float) * (4 * static_cast<size_t>(k_pad_) + 1)));
    const float y_inv = y_quant_ ? y_inv_scale_ : 1.0f;
    const float z_scale = z_kind_ == int8::ResidualKind::kF16 ? 1.0f : z_scale_;
    cudaError_t st = int8::fold_epilogue_constants(static_cast<const float*>(s.at(scale_)),
                                                   static_cast<const float*>(s.at(bias_)), k_pad_, y_inv, z_scale,
                                                   buf, buf + k_pad_, buf + 2 * k_pad_, s.stream);
    if (st == cudaSuccess && fp8_)
      st = int8::fp8_gemm_constants(static_cast<const float*>(s.at(bias_)), k_pad_, y_inv, buf + 3 * k_pad_,
                                    buf + 4 * k_pad_, s.stream);
    if (st == cudaSuccess) st = cudaStreamSynchronize(s.stream);
    if (st != cudaSuccess) {
      cudaFree(buf);
      KILN_CUDA_CALL(where, st);
    }
    folded_ = buf;
  }

  void epilogue(const RunState& s) {
    int8::EpilogueParams p;
    p.pixels = pixels_of(accv_, s.batch);
    p.k = k_;
    p.k_pad = k_pad_;
    p.acc = static_cast<const float*>(s.at(acc_));
    p.scale = static_cast<const float*>(s.at(scale_));
    p.bias = static_cast<const float*>(s.at(bias_));
    p.z = z_ >= 0 ? s.at(z_) : nullptr;
    p.z_kind = z_kind_;
    p.z_scale = z_scale_;
    p.relu = relu_;
    p.y = s.at(y_);
    p.y_int8 = y_quant_ && !fp8_;
    p.y_fp8 = y_quant_ && fp8_;
    p.y_inv_scale = y_inv_scale_;
    KILN_CUDA_CALL(label(), int8::conv_epilogue(p, s.stream));
  }

  void run_direct(const RunState& s) {
    const Dims xd = xv_.dims_at(s.batch), yd = accv_.dims_at(s.batch);
    int8::DirectConvParams p = direct_params_;
    p.n = static_cast<int>(xd[0]);
    p.c = static_cast<int>(xd[1]);
    p.h = static_cast<int>(xd[2]);
    p.w = static_cast<int>(xd[3]);
    p.k = static_cast<int>(yd[1]);
    p.ho = static_cast<int>(yd[2]);
    p.wo = static_cast<int>(yd[3]);
    if (fp8_)
      KILN_CUDA_CALL(label(), int8::direct_conv_fp8(p, static_cast<const uint8_t*>(s.at(x_)),
                                                    static_cast<const uint8_t*>(s.at(w_)),
                                                    static_cast<float*>(s.at(acc_)), s.stream));
    else
      KILN_CUDA_CALL(label(), int8::direct_conv(p, static_cast<const int8_t*>(s.at(x_)),
                                                static_cast<const int8_t*>(s.at(w_)), static_cast<float*>(s.at(acc_)),
                                                s.stream));
    epilogue(s);
  }

  void run_legacy(const RunState& s, const Int8Descs& d, cudnnConvolutionFwdAlgo_t algo, size_t ws) {
    const std::string& where = label();
    const float one = 1.0f, zero = 0.0f;
    KILN_CUDNN_CALL(where, cudnnSetStream(s.cudnn, s.stream));
    KILN_CUDNN_CALL(where, cudnnConvolutionForward(s.cudnn, &one, d.x, s.at(x_), wdesc_, s.at(w_), cdesc_, algo,
                                                   s.workspace, ws, &zero, d.y, s.at(acc_)));
    epilogue(s);
  }

  void run_graph(const RunState& s, const int8::FusedConvPlan& plan) {
    KILN_CUDNN_CALL(label(), cudnnSetStream(s.cudnn, s.stream));
    int8::FusedConvPointers p;
    p.x = s.at(x_);
    p.w = s.at(w_);
    p.scale = folded_;
    p.bias = folded_ + k_pad_;
    p.z = z_ >= 0 ? s.at(z_) : nullptr;
    p.z_scale = folded_ + 2 * k_pad_;
    p.y = s.at(y_);
    try {
      plan.execute(s.cudnn, p, s.workspace);
    } catch (const Error& e) {
      fail("{}: {}", label(), e.what());
    }
  }

  void run_imma(const RunState& s, const int8::ImmaConvGemm& gemm, const kernels::GemmAlgo& algo) {
    int8::ImmaConvPointers p;
    p.w = s.at(w_);
    p.x = s.at(x_);
    p.z = z_ >= 0 ? s.at(z_) : nullptr;
    p.alpha = folded_;
    p.bias = folded_ + k_pad_;
    p.beta = z_scale_ * y_inv_scale_;  // the same product the fold kernel stores
    p.y = s.at(y_);
    const cublasStatus_t st = gemm.run(s.cublaslt, algo, p, s.workspace, s.workspace_bytes, s.stream);
    if (st != CUBLAS_STATUS_SUCCESS)
      fail("{}: cuBLASLt {} matmul ({}, {}) failed: {}", label(), fp8_ ? "FP8" : "IMMA", gemm.describe(),
           algo.describe(), cublasGetStatusName(st));
  }

  std::unique_ptr<Int8Descs> make_descs(int batch) {
    auto d = std::make_unique<Int8Descs>();
    if (fp8_) return d;  // the legacy descriptors are INT8 only
    const Dims xd = xv_.dims_at(batch), yd = accv_.dims_at(batch);
    KILN_CUDNN_CALL(label(), cudnnCreateTensorDescriptor(&d->x));
    KILN_CUDNN_CALL(label(), cudnnCreateTensorDescriptor(&d->y));
    KILN_CUDNN_CALL(label(), cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_INT8,
                                                        static_cast<int>(xd[0]), static_cast<int>(xd[1]),
                                                        static_cast<int>(xd[2]), static_cast<int>(xd[3])));
    KILN_CUDNN_CALL(label(), cudnnSetTensor4dDescriptor(d->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT,
                                                        static_cast<int>(yd[0]), static_cast<int>(yd[1]),
                                                        static_cast<int>(yd[2]), static_cast<int>(yd[3])));
    return d;
  }

  // The per-batch state of the current tactic, built on first use at that batch size (the
  // first run at a size is never captured into a CUDA graph, see cuda_context.cc).
  const Int8Descs& descs(const RunState& s) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = descs_[s.batch];
    if (slot) return *slot;
    auto d = make_descs(s.batch);
    try {
      switch (family_) {
        case Family::kLegacy:
          if (s.batch != max_batch_) {
            size_t ws = 0;
            if (cudnnGetConvolutionForwardWorkspaceSize(s.cudnn, d->x, wdesc_, cdesc_, d->y, algo_, &ws) !=
                    CUDNN_STATUS_SUCCESS ||
                ws > workspace_)
              fail("legacy algo {} does not run at batch {} within {} bytes", static_cast<int>(algo_), s.batch,
                   workspace_);
          }
          break;
        case Family::kCudnnGraph: {
          ensure_folded(s);
          d->graph = std::make_unique<int8::FusedConvGraph>(int8::graph_build_handle(), graph_spec(s.batch));
          d->plan = d->graph->make_plan(engine_);
          if (d->plan->workspace_bytes() > s.workspace_bytes)
            fail("plan needs {} workspace bytes, {} available", d->plan->workspace_bytes(), s.workspace_bytes);
          break;
        }
        case Family::kCublasLt: {
          ensure_folded(s);
          d->gemm = make_gemm(s, s.batch);
          if (d->gemm->supports(s.cublaslt, gemm_algo_) && gemm_algo_.workspace_bytes <= s.workspace_bytes)
            d->gemm_algo = gemm_algo_;
          else  // the stored algo does not fit this batch: the heuristic's first choice
            d->gemm_algo = d->gemm->algos(s.cublaslt, 1, s.workspace_bytes).at(0);
          break;
        }
        case Family::kIgemm:
          if (const std::string why = int8::igemm_tile_unsupported(igemm_params(s), igemm_tile_); !why.empty())
            fail("igemm tile {} does not run at batch {}: {}", int8::igemm_tile_name(igemm_tile_), s.batch, why);
          break;
        case Family::kDirect: break;
      }
    } catch (const Error& e) {
      // Not fatal: this batch size runs the direct kernel (exact, slow).
      d->plan.reset();
      d->graph.reset();
      d->gemm.reset();
      d->use_fallback = true;
      d->fallback_reason = e.what();
    }
    slot = std::move(d);
    return *slot;
  }

  int x_ = -1, w_ = -1, scale_ = -1, bias_ = -1, z_ = -1, y_ = -1, acc_ = -1;
  DeviceValue xv_, accv_;
  int k_ = 0, k_pad_ = 0, z_channels_ = 0;
  bool y_quant_ = true, relu_ = false;
  int8::ResidualKind z_kind_ = int8::ResidualKind::kNone;
  bool fp8_ = false;  // E4M3 operands (kiln.Fp8Conv), else INT8
  float y_inv_scale_ = 1, z_scale_ = 1;
  cudnnFilterDescriptor_t wdesc_ = nullptr;
  cudnnConvolutionDescriptor_t cdesc_ = nullptr;
  std::string key_;
  int max_batch_ = 1;
  // The tactic: a family and what that family needs.
  Family family_ = Family::kLegacy;
  cudnnConvolutionFwdAlgo_t algo_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  int8::EngineChoice engine_;
  kernels::GemmAlgo gemm_algo_;
  int igemm_tile_ = 0;
  size_t workspace_ = 0;
  int8::DirectConvParams direct_params_;  // geometry of the direct kernel
  // Selection results for describe_tactic().
  double ms_ = 0;
  int timed_ = 0;
  std::vector<std::string> skipped_;
  // Folded epilogue constants: scale, bias, z_scale (k_pad each), device memory the op owns.
  std::mutex fold_mutex_;
  float* folded_ = nullptr;
  float* ones_ = nullptr;  // FP8 GEMM B scale vector
  std::mutex mutex_;
  std::map<int, std::unique_ptr<Int8Descs>> descs_;
};

}  // namespace

std::unique_ptr<DeviceOp> make_int8_op(const ir::Node& node, const std::vector<DeviceValue>& values) {
  if (node.domain != "kiln") return nullptr;
  if (node.op == "QuantizeInt8" || node.op == "QuantizeFp8") return make_quantize_op(node, values);
  if (node.op == "Int8Conv" || node.op == "Fp8Conv") return std::make_unique<Int8ConvOp>(node, values);
  return nullptr;
}

}  // namespace kiln::cuda
