#include "backends/cuda/conv_op.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "backends/cuda/kernels/channel_affine.h"
#include "backends/cuda/kernels/gemm_cublaslt.h"
#include "backends/cuda/kernels/strided_copy.h"
#include "backends/cuda/tactic_timer.h"

namespace kiln::cuda {

namespace {

constexpr int kMaxCandidates = 8;

class TensorDesc {
 public:
  TensorDesc() { KILN_CUDNN_CALL("", cudnnCreateTensorDescriptor(&d_)); }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d_); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  void set(const std::string& where, Layout layout, DType dtype, const Dims& d) {
    KILN_CUDNN_CALL(where, cudnnSetTensor4dDescriptor(d_, layout == Layout::kNHWC ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
                                                      cudnn_dtype(dtype), static_cast<int>(d[0]), static_cast<int>(d[1]),
                                                      static_cast<int>(d[2]), static_cast<int>(d[3])));
  }
  cudnnTensorDescriptor_t get() const { return d_; }

 private:
  cudnnTensorDescriptor_t d_ = nullptr;
};

// One timed choice, for the batch sizes up to `batch`.
struct ConvTactic {
  int batch = 0;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  bool fused = false;
  // Input channels zero-padded to a multiple of 8 (into the workspace) so that a 3-channel
  // first layer can use tensor-core kernels; the filter has matching zero channels.
  bool pad_channels = false;
  size_t workspace = 0;  // cuDNN scratch, after the padded input when pad_channels
  // A 1x1 stride-1 NHWC convolution run as one cuBLASLt GEMM, Y[NHW,K] = X[NHW,C] * W[K,C]^T
  // with bias (+ residual as beta * C) (+ relu) in the epilogue; gemm_algo is the
  // serialized cuBLASLt algorithm (GemmAlgo::to_json).
  bool gemm = false;
  std::string gemm_algo;
  double ms = 0;

  nlohmann::json to_json() const {
    nlohmann::json j = {{"batch", batch},         {"algo", static_cast<int>(algo)}, {"fused", fused},
                        {"pad_channels", pad_channels}, {"workspace", workspace}, {"ms", ms}};
    if (gemm) {
      j["gemm"] = true;
      j["gemm_algo"] = gemm_algo;
    }
    return j;
  }
  static ConvTactic from_json(const nlohmann::json& j, int default_batch) {
    ConvTactic t;
    t.batch = j.value("batch", default_batch);
    t.algo = static_cast<cudnnConvolutionFwdAlgo_t>(j.at("algo").get<int>());
    t.fused = j.at("fused").get<bool>();
    t.pad_channels = j.value("pad_channels", false);
    t.workspace = j.at("workspace").get<size_t>();
    t.ms = j.value("ms", 0.0);
    t.gemm = j.value("gemm", false);
    if (t.gemm) t.gemm_algo = j.at("gemm_algo").get<std::string>();
    return t;
  }
};

struct BatchDescs {
  TensorDesc x, y, x_padded;
  bool resolved = false;
  ConvTactic tactic;  // what runs at this batch size (see resolve)
  // For GEMM tactics: the cuBLASLt problem at this batch size and its algorithm. The
  // mutex serializes contexts on several threads (CublasLtGemm is one-thread).
  std::unique_ptr<kernels::CublasLtGemm> gemm;
  kernels::GemmAlgo gemm_algo;
  std::unique_ptr<std::mutex> gemm_mutex = std::make_unique<std::mutex>();
};

constexpr size_t kAlign = 256;
size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

class ConvOp : public DeviceOp {
 public:
  ConvOp(const ir::Node& node, const std::vector<DeviceValue>& values, Precision precision) {
    set_label(fmt::format("node \"{}\" ({})", node.name, node.op));
    const std::string& where = label();
    x_ = node.inputs[0];
    w_ = node.inputs[1];
    b_ = node.has_input(2) ? node.inputs[2] : -1;
    z_ = node.has_input(3) ? node.inputs[3] : -1;
    b32_ = node.has_input(4) ? node.inputs[4] : -1;
    w_padded_ = node.has_input(5) ? node.inputs[5] : -1;
    y_ = node.outputs[0];
    reads = {x_, w_};
    if (z_ >= 0) reads.push_back(z_);
    writes = {y_};
    const DeviceValue& x = values[x_];
    const DeviceValue& w = values[w_];
    const DeviceValue& y = values[y_];
    xv_ = x;
    yv_ = y;
    layout_ = x.layout;
    dtype_ = x.dtype;
    const auto& a = node.attrs;
    const int64_t group = a.get_int("group", 1);
    auto pads = a.get_ints("pads", {0, 0, 0, 0});
    auto strides = a.get_ints("strides", {1, 1});
    auto dil = a.get_ints("dilations", {1, 1});
    if (pads.size() != 4 || strides.size() != 2 || dil.size() != 2)
      fail_with(ErrorCode::kUnimplemented, "{}: only 2-D convolutions run on the GPU", where);
    if (pads[0] != pads[2] || pads[1] != pads[3])
      fail_with(ErrorCode::kUnimplemented, "{}: asymmetric pads [{},{},{},{}] must be made explicit before cuDNN",
                where, pads[0], pads[1], pads[2], pads[3]);
    const std::string act_name = node.op == "FusedConv" ? a.get_string("activation", "none") : "none";
    act_ = kernels::activation_from_name(act_name, a.get_float("act_alpha", 0), a.get_float("act_beta", 0));

    wdesc_ = make_filter(w);
    if (w_padded_ >= 0) {
      const DeviceValue& wp = values[w_padded_];
      if (layout_ != Layout::kNHWC || group != 1 || wp.dims.size() != 4 || wp.dims[0] != w.dims[0] ||
          wp.dims[1] < w.dims[1] || wp.dims[2] != w.dims[2] || wp.dims[3] != w.dims[3])
        fail_with(ErrorCode::kInternal, "{}: channel-padded filter {} does not match filter {}", where,
                  dims_to_string(wp.dims), dims_to_string(w.dims));
      wdesc_padded_ = make_filter(wp);
      padded_channels_ = wp.dims[1];
    }
    KILN_CUDNN_CALL(where, cudnnCreateConvolutionDescriptor(&cdesc_));
    KILN_CUDNN_CALL(where, cudnnSetConvolution2dDescriptor(
                               cdesc_, static_cast<int>(pads[0]), static_cast<int>(pads[1]),
                               static_cast<int>(strides[0]), static_cast<int>(strides[1]), static_cast<int>(dil[0]),
                               static_cast<int>(dil[1]), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    KILN_CUDNN_CALL(where, cudnnSetConvolutionGroupCount(cdesc_, static_cast<int>(group)));
    // fp32 and native must stay IEEE fp32 (FMA); tf32/fp16/bf16 may use tensor cores.
    const bool strict = precision == Precision::kNative || precision == Precision::kFP32;
    KILN_CUDNN_CALL(where, cudnnSetConvolutionMathType(cdesc_, strict ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
    KILN_CUDNN_CALL(where, cudnnCreateActivationDescriptor(&adesc_));
    const bool relu = act_.kind == kernels::ActivationKind::kRelu;
    KILN_CUDNN_CALL(where, cudnnSetActivationDescriptor(adesc_, relu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY,
                                                        CUDNN_NOT_PROPAGATE_NAN, 0.0));
    if (b_ >= 0) {
      bias_desc_.set(where, Layout::kNCHW, values[b_].dtype, {1, y.dims[1], 1, 1});
    }
    fusable_ = b_ >= 0 && (relu || act_.kind == kernels::ActivationKind::kNone);
    needs_epilogue_ = b32_ >= 0 || z_ >= 0 || act_.kind != kernels::ActivationKind::kNone;
    // "t3": entries from before INT8 engines timed the GEMM tactic of their FP16 1x1
    // convolutions lack that candidate, so they are timed again.
    key_rest_ = fmt::format("w{} pads{},{} s{},{} d{},{} g{} {} {} act{} z{} math{} padc{} t3", dims_to_string(w.dims),
                            pads[0], pads[1], strides[0], strides[1], dil[0], dil[1], group, dtype_name(dtype_),
                            layout_ == Layout::kNHWC ? "nhwc" : "nchw", act_name, z_ >= 0, strict, padded_channels_);
    max_batch_ = static_cast<int>(x.dims[0]);
    const bool pointwise = w.dims[2] == 1 && w.dims[3] == 1 && strides[0] == 1 && strides[1] == 1 && pads[0] == 0 &&
                           pads[1] == 0 && group == 1;
    if (pointwise && layout_ == Layout::kNHWC && b_ >= 0 && (relu || act_.kind == kernels::ActivationKind::kNone) &&
        precision != Precision::kNative) {
      // INT8 / FP8 / best engines run their other convolutions in FP16, as FP16 engines do.
      const bool f16 = precision == Precision::kFP16 || precision == Precision::kINT8 ||
                       precision == Precision::kFP8 || precision == Precision::kBest;
      gemm_precision_ = f16                             ? kernels::GemmPrecision::kF16
                        : precision == Precision::kBF16 ? kernels::GemmPrecision::kBF16
                        : precision == Precision::kTF32 ? kernels::GemmPrecision::kTF32
                                                        : kernels::GemmPrecision::kF32;
      gemm_ok_ = kernels::gemm_storage_dtype(gemm_precision_) == dtype_ && values[b_].dtype == dtype_;
    }
    tactics_ = {ConvTactic{}};
    tactics_[0].batch = max_batch_;
  }

  ~ConvOp() override {
    cudnnDestroyFilterDescriptor(wdesc_);
    if (wdesc_padded_) cudnnDestroyFilterDescriptor(wdesc_padded_);
    cudnnDestroyConvolutionDescriptor(cdesc_);
    cudnnDestroyActivationDescriptor(adesc_);
  }

  size_t workspace_bytes() const override {
    size_t most = 0;
    for (const ConvTactic& t : tactics_) most = std::max(most, bytes_needed(t, t.batch));
    return most;
  }
  nlohmann::json tactic() const override {
    nlohmann::json buckets = nlohmann::json::array();
    for (const ConvTactic& t : tactics_) buckets.push_back(t.to_json());
    return {{"buckets", buckets}};
  }
  void set_tactic(const nlohmann::json& j) override {
    std::vector<ConvTactic> parsed;
    if (j.contains("buckets")) {
      for (const auto& b : j.at("buckets")) parsed.push_back(ConvTactic::from_json(b, max_batch_));
    } else {
      parsed.push_back(ConvTactic::from_json(j, max_batch_));  // plans from before per-batch tactics
    }
    if (parsed.empty()) fail("{}: plan stores no tactic", label());
    for (const ConvTactic& t : parsed)
      if (t.pad_channels && !wdesc_padded_) fail("{}: plan's tactic pads channels but the node has no padded filter", label());
    std::sort(parsed.begin(), parsed.end(), [](const ConvTactic& a, const ConvTactic& b) { return a.batch < b.batch; });
    std::lock_guard<std::mutex> lock(mutex_);
    tactics_ = std::move(parsed);
    for (auto& [batch, d] : descs_) d->resolved = false;
  }
  // Buckets are sorted by batch: the last one serves the max batch.
  double tactic_ms() const override { return tactics_.empty() ? 0 : tactics_.back().ms; }
  std::string describe_tactic() const override {
    std::string out;
    for (const ConvTactic& t : tactics_)
      out += fmt::format("{}n<={}: {}{}{}", out.empty() ? "" : "; ", t.batch,
                         t.gemm ? std::string("cuBLASLt GEMM")
                                : fmt::format("algo {} {}", static_cast<int>(t.algo), t.fused ? "fused" : "conv + epilogue"),
                         t.pad_channels ? " (channels padded)" : "",
                         t.ms > 0 ? fmt::format(", {:.3f} ms", t.ms) : std::string());
    return out;
  }

  void select_tactic(TacticTimer& timer) override {
    const std::vector<int> batches = timer.batches.empty() ? std::vector<int>{max_batch_} : timer.batches;
    std::vector<ConvTactic> chosen;
    for (int batch : batches) {
      const std::string key = fmt::format("conv x{} {}", dims_to_string(xv_.dims_at(batch)), key_rest_);
      if (const nlohmann::json* cached = timer.lookup(key)) {
        try {
          ConvTactic t = ConvTactic::from_json(*cached, batch);
          t.batch = batch;
          if (!t.pad_channels || wdesc_padded_) {
            chosen.push_back(t);
            continue;
          }
        } catch (const nlohmann::json::exception&) {
          // a damaged entry is timed again
        }
      }
      ConvTactic best = time_batch(timer, batch, key);
      chosen.push_back(best);
      timer.store(key, best.to_json());
    }
    std::lock_guard<std::mutex> lock(mutex_);
    tactics_ = std::move(chosen);
    for (auto& [batch, d] : descs_) d->resolved = false;
  }

  void enqueue(const RunState& s) override {
    const BatchDescs& d = descs(s.batch, s.cudnn, s.workspace_bytes);
    run(s, d, d.tactic);
  }

 private:
  cudnnFilterDescriptor_t make_filter(const DeviceValue& w) {
    cudnnFilterDescriptor_t desc = nullptr;
    KILN_CUDNN_CALL(label(), cudnnCreateFilterDescriptor(&desc));
    const cudnnStatus_t st = cudnnSetFilter4dDescriptor(
        desc, cudnn_dtype(w.dtype), w.layout == Layout::kNHWC ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
        static_cast<int>(w.dims[0]), static_cast<int>(w.dims[1]), static_cast<int>(w.dims[2]),
        static_cast<int>(w.dims[3]));
    if (st != CUDNN_STATUS_SUCCESS) {
      cudnnDestroyFilterDescriptor(desc);
      KILN_CUDNN_CALL(label(), st);
    }
    return desc;
  }

  size_t padded_input_bytes(int batch) const {
    if (padded_channels_ == 0) return 0;
    const Dims x = xv_.dims_at(batch);
    return align_up(static_cast<size_t>(x[0] * padded_channels_ * x[2] * x[3]) * dtype_size(dtype_));
  }
  size_t bytes_needed(const ConvTactic& t, int batch) const {
    return (t.pad_channels ? padded_input_bytes(batch) : 0) + t.workspace;
  }

  // Times every candidate cuDNN's heuristics offer at `batch` and returns the fastest.
  ConvTactic time_batch(TacticTimer& timer, int batch, const std::string& key) {
    const std::string& where = label();
    RunState state = timer.state;
    state.batch = batch;
    const BatchDescs& d = descs(batch, nullptr, 0);
    std::vector<ConvTactic> candidates;
    for (const bool pad : {false, true}) {
      if (pad && !wdesc_padded_) continue;
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      int found = 0;
      KILN_CUDNN_CALL(where, cudnnGetConvolutionForwardAlgorithm_v7(
                                 timer.state.cudnn, pad ? d.x_padded.get() : d.x.get(), pad ? wdesc_padded_ : wdesc_,
                                 cdesc_, d.y.get(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
      int added = 0;
      for (int i = 0; i < found && added < kMaxCandidates; ++i) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
        ConvTactic t;
        t.batch = batch;
        t.algo = perf[i].algo;
        t.pad_channels = pad;
        const bool identity = act_.kind == kernels::ActivationKind::kNone;
        if (fusable_ && (!identity || t.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM)) {
          t.fused = true;
          candidates.push_back(t);
        }
        t.fused = false;
        candidates.push_back(t);
        ++added;
      }
    }
    if (candidates.empty()) fail_with(ErrorCode::kUnimplemented, "{}: cuDNN offers no algorithm for {}", where, key);
    ConvTactic best;
    best.ms = -1;
    std::string last_error;
    for (ConvTactic& c : candidates) {
      size_t ws = 0;
      if (cudnnGetConvolutionForwardWorkspaceSize(timer.state.cudnn, c.pad_channels ? d.x_padded.get() : d.x.get(),
                                                  c.pad_channels ? wdesc_padded_ : wdesc_, cdesc_, d.y.get(), c.algo,
                                                  &ws) != CUDNN_STATUS_SUCCESS)
        continue;
      c.workspace = align_up(ws);
      if (bytes_needed(c, batch) > timer.workspace_limit) continue;
      try {
        c.ms = timer.time_ms([&] { run(state, d, c); });
      } catch (const Error& e) {
        last_error = e.what();
        continue;
      }
      if (best.ms < 0 || c.ms < best.ms) best = c;
    }
    if (gemm_ok_) {
      try {
        ConvTactic g = time_gemm(timer, state, batch);
        if (best.ms < 0 || g.ms < best.ms) best = g;
      } catch (const Error& e) {
        last_error = e.what();
      }
    }
    if (best.ms < 0)
      fail_with(ErrorCode::kUnimplemented, "{}: no cuDNN algorithm ran for {} ({})", where, key,
                last_error.empty() ? "each needs more workspace than allowed" : last_error);
    return best;
  }

  kernels::GemmProblem gemm_problem(int batch) const {
    const Dims x = xv_.dims_at(batch);
    kernels::GemmProblem p;
    p.m = x[0] * x[2] * x[3];
    p.n = yv_.dims[1];
    p.k = x[1];
    p.trans_b = true;  // W is [K, C]: op(B) = W^T
    p.precision = gemm_precision_;
    p.epilogue = act_.kind == kernels::ActivationKind::kRelu ? kernels::GemmEpilogue::kReluBias
                                                             : kernels::GemmEpilogue::kBias;
    p.has_c = z_ >= 0;
    return p;
  }

  kernels::GemmBuffers gemm_buffers(const RunState& s) const {
    kernels::GemmBuffers b;
    b.a = s.at(x_);
    b.b = s.at(w_);
    b.bias = s.at(b_);
    b.c = z_ >= 0 ? s.at(z_) : nullptr;
    b.beta = z_ >= 0 ? 1.0f : 0.0f;
    b.d = s.at(y_);
    return b;
  }

  // The fastest of cuBLASLt's proposals, timed the same way as the cuDNN candidates.
  ConvTactic time_gemm(TacticTimer& timer, const RunState& state, int batch) {
    BatchDescs& d = const_cast<BatchDescs&>(descs(batch, nullptr, 0));
    auto gemm = kernels::CublasLtGemm::create(gemm_problem(batch));
    const auto algos = gemm->enumerate_algos(kMaxCandidates, timer.workspace_limit);
    const kernels::GemmAlgo fastest = gemm->time_algos(algos, gemm_buffers(state), state.workspace,
                                                       state.workspace_bytes, state.stream, 5);
    ConvTactic t;
    t.batch = batch;
    t.gemm = true;
    t.gemm_algo = fastest.to_json();
    t.workspace = align_up(fastest.workspace_bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      d.gemm = std::move(gemm);
      d.gemm_algo = fastest;
    }
    t.ms = timer.time_ms([&] { run(state, d, t); });
    return t;
  }

  void run(const RunState& s, const BatchDescs& d, const ConvTactic& t) {
    const std::string& where = label();
    if (t.gemm) {
      if (!d.gemm) fail_with(ErrorCode::kInternal, "{}: GEMM tactic without a cuBLASLt problem", where);
      if (s.workspace_bytes < t.workspace)
        fail_with(ErrorCode::kInternal, "{}: workspace of {} bytes is smaller than the {} the GEMM needs", where,
                  s.workspace_bytes, t.workspace);
      std::lock_guard<std::mutex> lock(*d.gemm_mutex);
      const Status st = d.gemm->run(d.gemm_algo, gemm_buffers(s), s.workspace, s.workspace_bytes, s.stream);
      if (!st.ok()) fail_with(ErrorCode::kInternal, "{}: cuBLASLt GEMM: {}", where, st.message());
      return;
    }
    const float one = 1.0f, zero = 0.0f;
    void* y = s.at(y_);
    const size_t pad_bytes = t.pad_channels ? padded_input_bytes(s.batch) : 0;
    if (s.workspace_bytes < pad_bytes + t.workspace)
      fail_with(ErrorCode::kInternal, "{}: workspace of {} bytes is smaller than the {} the tactic needs", where,
                s.workspace_bytes, pad_bytes + t.workspace);
    KILN_CUDNN_CALL(where, cudnnSetStream(s.cudnn, s.stream));
    const void* x = s.at(x_);
    cudnnTensorDescriptor_t xdesc = d.x.get();
    cudnnFilterDescriptor_t wdesc = wdesc_;
    const void* w = s.at(w_);
    if (t.pad_channels) {
      const Dims xd = xv_.dims_at(s.batch);
      KILN_CUDA_CALL(where, kernels::pad_constant(dtype_, {xd[0], xd[2], xd[3], xd[1]}, {0, 0, 0, 0},
                                                  {0, 0, 0, padded_channels_ - xd[1]}, 0.0, x, s.workspace, s.stream));
      x = s.workspace;
      xdesc = d.x_padded.get();
      wdesc = wdesc_padded_;
      w = s.at(w_padded_);
    }
    void* ws = static_cast<char*>(s.workspace) + pad_bytes;
    if (t.fused) {
      const float alpha2 = z_ >= 0 ? 1.0f : 0.0f;
      KILN_CUDNN_CALL(where, cudnnConvolutionBiasActivationForward(
                                 s.cudnn, &one, xdesc, x, wdesc, w, cdesc_, t.algo, ws, t.workspace, &alpha2,
                                 d.y.get(), z_ >= 0 ? s.at(z_) : y, bias_desc_.get(), s.at(b_), adesc_, d.y.get(), y));
      return;
    }
    KILN_CUDNN_CALL(where, cudnnConvolutionForward(s.cudnn, &one, xdesc, x, wdesc, w, cdesc_, t.algo, ws, t.workspace,
                                                   &zero, d.y.get(), y));
    if (!needs_epilogue_) return;
    const Dims yd = yv_.dims_at(s.batch);
    kernels::ChannelAffineParams p;
    p.layout = layout_;
    p.dtype = dtype_;
    p.n = yd[0];
    p.c = yd[1];
    p.spatial = yd[2] * yd[3];
    p.activation = act_;
    KILN_CUDA_CALL(where, kernels::channel_affine(p, y, nullptr, b32_ >= 0 ? static_cast<const float*>(s.at(b32_)) : nullptr,
                                                  z_ >= 0 ? s.at(z_) : nullptr, y, s.stream));
  }

  // Descriptors for one batch size and, when `handle` is given, the tactic that runs there:
  // the tactic of the batch's bucket if cuDNN accepts that algorithm at this size within
  // the workspace, else the nearest other bucket's, else the implicit GEMM (no workspace).
  const BatchDescs& descs(int batch, cudnnHandle_t handle, size_t workspace_bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = descs_[batch];
    if (!slot) {
      auto d = std::make_unique<BatchDescs>();
      const Dims xd = xv_.dims_at(batch);
      d->x.set(label(), layout_, dtype_, xd);
      d->y.set(label(), layout_, dtype_, yv_.dims_at(batch));
      if (padded_channels_ > 0) d->x_padded.set(label(), layout_, dtype_, {xd[0], padded_channels_, xd[2], xd[3]});
      slot = std::move(d);
    }
    if (handle && !slot->resolved) {
      slot->tactic = resolve(*slot, batch, handle, workspace_bytes);
      slot->resolved = true;
    }
    return *slot;
  }

  ConvTactic resolve(const BatchDescs& d, int batch, cudnnHandle_t handle, size_t workspace_bytes) const {
    std::vector<int> batches;
    for (const ConvTactic& t : tactics_) batches.push_back(t.batch);
    const size_t home = tactic_bucket(batches, batch);
    std::vector<size_t> order = {home};
    for (size_t i = home + 1; i < tactics_.size(); ++i) order.push_back(i);
    for (size_t i = home; i-- > 0;) order.push_back(i);
    for (size_t i : order) {
      ConvTactic t = tactics_[i];
      if (t.gemm) {
        if (use_gemm(const_cast<BatchDescs&>(d), batch, t, workspace_bytes)) return t;
        continue;
      }
      size_t ws = 0;
      if (cudnnGetConvolutionForwardWorkspaceSize(handle, t.pad_channels ? d.x_padded.get() : d.x.get(),
                                                  t.pad_channels ? wdesc_padded_ : wdesc_, cdesc_, d.y.get(), t.algo,
                                                  &ws) != CUDNN_STATUS_SUCCESS)
        continue;
      t.workspace = align_up(ws);
      if (bytes_needed(t, batch) <= workspace_bytes) return t;
    }
    ConvTactic fallback;
    fallback.batch = batch;
    fallback.algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    fallback.fused = tactics_.back().fused && act_.kind == kernels::ActivationKind::kRelu;
    return fallback;
  }

  // Prepares d's cuBLASLt problem for a GEMM tactic at this batch size: the stored algorithm
  // if cuBLASLt accepts it for this M, else the heuristic's first proposal.
  bool use_gemm(BatchDescs& d, int batch, ConvTactic& t, size_t workspace_bytes) const {
    if (!gemm_ok_) return false;
    try {
      auto gemm = kernels::CublasLtGemm::create(gemm_problem(batch));
      kernels::GemmAlgo algo;
      bool stored_usable = false;
      try {
        algo = kernels::GemmAlgo::from_json(t.gemm_algo);
        stored_usable = gemm->algo_is_supported(algo) && algo.workspace_bytes <= workspace_bytes;
      } catch (const Error&) {
        // an unreadable stored algorithm: the heuristic's choice runs instead
      }
      if (!stored_usable) {
        const auto proposals = gemm->enumerate_algos(1, workspace_bytes);
        if (proposals.empty()) return false;
        algo = proposals[0];
      }
      t.workspace = align_up(algo.workspace_bytes);
      if (t.workspace > workspace_bytes) return false;
      d.gemm = std::move(gemm);
      d.gemm_algo = algo;
      return true;
    } catch (const Error&) {
      return false;  // another tactic (or the implicit GEMM) runs instead
    }
  }

  int x_ = -1, w_ = -1, b_ = -1, z_ = -1, b32_ = -1, y_ = -1, w_padded_ = -1;
  bool gemm_ok_ = false;
  kernels::GemmPrecision gemm_precision_ = kernels::GemmPrecision::kF32;
  DeviceValue xv_, yv_;
  Layout layout_ = Layout::kNCHW;
  DType dtype_ = DType::kF32;
  kernels::Activation act_;
  cudnnFilterDescriptor_t wdesc_ = nullptr;
  cudnnFilterDescriptor_t wdesc_padded_ = nullptr;
  int64_t padded_channels_ = 0;
  cudnnConvolutionDescriptor_t cdesc_ = nullptr;
  cudnnActivationDescriptor_t adesc_ = nullptr;
  TensorDesc bias_desc_;
  bool fusable_ = false, needs_epilogue_ = false;
  std::string key_rest_;
  int max_batch_ = 1;
  std::vector<ConvTactic> tactics_;  // ascending by batch; the last one covers the max batch
  std::mutex mutex_;
  std::map<int, std::unique_ptr<BatchDescs>> descs_;
};

}  // namespace

std::unique_ptr<DeviceOp> make_conv_op(const ir::Node& node, const std::vector<DeviceValue>& values,
                                       Precision precision) {
  return std::make_unique<ConvOp>(node, values, precision);
}

}  // namespace kiln::cuda
