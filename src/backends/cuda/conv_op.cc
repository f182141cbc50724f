#include "backends/cuda/conv_op.h"

#include <map>
#include <mutex>

#include "backends/cuda/kernels/channel_affine.h"
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

struct BatchDescs {
  TensorDesc x, y;
  // The tactic was timed at the max batch; another batch size may not support it, and
  // then runs the implicit GEMM (no workspace, fused with relu where that applies).
  bool use_fallback = false;
};

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
      fail_with(ErrorCode::kUnimplemented, "{}: asymmetric pads [{},{},{},{}] are not supported by cuDNN", where,
                pads[0], pads[1], pads[2], pads[3]);
    const std::string act_name = node.op == "FusedConv" ? a.get_string("activation", "none") : "none";
    act_ = kernels::activation_from_name(act_name, a.get_float("act_alpha", 0), a.get_float("act_beta", 0));

    KILN_CUDNN_CALL(where, cudnnCreateFilterDescriptor(&wdesc_));
    KILN_CUDNN_CALL(where, cudnnSetFilter4dDescriptor(
                               wdesc_, cudnn_dtype(w.dtype),
                               w.layout == Layout::kNHWC ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
                               static_cast<int>(w.dims[0]), static_cast<int>(w.dims[1]), static_cast<int>(w.dims[2]),
                               static_cast<int>(w.dims[3])));
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
    key_ = fmt::format("conv x{} w{} pads{},{} s{},{} d{},{} g{} {} {} act{} z{} math{}", dims_to_string(x.dims),
                       dims_to_string(w.dims), pads[0], pads[1], strides[0], strides[1], dil[0], dil[1], group,
                       dtype_name(dtype_), layout_ == Layout::kNHWC ? "nhwc" : "nchw", act_name, z_ >= 0, strict);
    max_batch_ = static_cast<int>(x.dims[0]);
  }

  ~ConvOp() override {
    cudnnDestroyFilterDescriptor(wdesc_);
    cudnnDestroyConvolutionDescriptor(cdesc_);
    cudnnDestroyActivationDescriptor(adesc_);
  }

  size_t workspace_bytes() const override { return workspace_; }
  nlohmann::json tactic() const override { return {{"algo", static_cast<int>(algo_)}, {"fused", fused_}, {"workspace", workspace_}}; }
  void set_tactic(const nlohmann::json& t) override {
    algo_ = static_cast<cudnnConvolutionFwdAlgo_t>(t.at("algo").get<int>());
    fused_ = t.at("fused").get<bool>();
    workspace_ = t.at("workspace").get<size_t>();
  }
  std::string describe_tactic() const override {
    return fmt::format("algo {} {}{}", static_cast<int>(algo_), fused_ ? "fused" : "conv + epilogue",
                       ms_ > 0 ? fmt::format(", {:.3f} ms", ms_) : std::string());
  }

  void select_tactic(TacticTimer& timer) override {
    if (const nlohmann::json* cached = timer.lookup(key_)) {
      set_tactic(*cached);
      ms_ = cached->value("ms", 0.0);
      return;
    }
    const std::string& where = label();
    const BatchDescs& d = descs(max_batch_, timer.state.cudnn);
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    KILN_CUDNN_CALL(where, cudnnGetConvolutionForwardAlgorithm_v7(timer.state.cudnn, d.x.get(), wdesc_, cdesc_, d.y.get(),
                                                                  CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
    struct Candidate { cudnnConvolutionFwdAlgo_t algo; bool fused; };
    std::vector<Candidate> candidates;
    for (int i = 0; i < found && static_cast<int>(candidates.size()) < kMaxCandidates; ++i) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
      const cudnnConvolutionFwdAlgo_t algo = perf[i].algo;
      const bool identity = act_.kind == kernels::ActivationKind::kNone;
      if (fusable_ && (!identity || algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM))
        candidates.push_back({algo, true});
      candidates.push_back({algo, false});
    }
    if (candidates.empty()) fail_with(ErrorCode::kUnimplemented, "{}: cuDNN offers no algorithm for {}", where, key_);
    double best = -1;
    std::string last_error;
    RunState state = timer.state;
    for (const Candidate& c : candidates) {
      size_t ws = 0;
      if (cudnnGetConvolutionForwardWorkspaceSize(timer.state.cudnn, d.x.get(), wdesc_, cdesc_, d.y.get(), c.algo, &ws) !=
              CUDNN_STATUS_SUCCESS ||
          ws > timer.workspace_limit)
        continue;
      algo_ = c.algo;
      fused_ = c.fused;
      workspace_ = ws;
      double ms;
      try {
        ms = timer.time_ms([&] { enqueue(state); });
      } catch (const Error& e) {
        last_error = e.what();
        continue;
      }
      if (best < 0 || ms < best) {
        best = ms;
        chosen_ = tactic();
      }
    }
    if (best < 0)
      fail_with(ErrorCode::kUnimplemented, "{}: no cuDNN algorithm ran for {} ({})", where, key_,
                last_error.empty() ? "each needs more workspace than allowed" : last_error);
    set_tactic(chosen_);
    ms_ = best;
    nlohmann::json entry = chosen_;
    entry["ms"] = best;
    timer.store(key_, entry);
  }

  void enqueue(const RunState& s) override {
    const std::string& where = label();
    const BatchDescs& d = descs(s.batch, s.cudnn);
    const float one = 1.0f, zero = 0.0f;
    void* y = s.at(y_);
    if (s.workspace_bytes < workspace_)
      fail_with(ErrorCode::kInternal, "{}: workspace of {} bytes is smaller than the {} the tactic needs", where,
                s.workspace_bytes, workspace_);
    KILN_CUDNN_CALL(where, cudnnSetStream(s.cudnn, s.stream));
    const cudnnConvolutionFwdAlgo_t algo = d.use_fallback ? CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM : algo_;
    const bool fused = d.use_fallback ? fused_ && act_.kind == kernels::ActivationKind::kRelu : fused_;
    const size_t workspace = d.use_fallback ? 0 : workspace_;
    if (fused) {
      const float alpha2 = z_ >= 0 ? 1.0f : 0.0f;
      KILN_CUDNN_CALL(where, cudnnConvolutionBiasActivationForward(
                                 s.cudnn, &one, d.x.get(), s.at(x_), wdesc_, s.at(w_), cdesc_, algo, s.workspace,
                                 workspace, &alpha2, d.y.get(), z_ >= 0 ? s.at(z_) : y, bias_desc_.get(), s.at(b_),
                                 adesc_, d.y.get(), y));
      return;
    }
    KILN_CUDNN_CALL(where, cudnnConvolutionForward(s.cudnn, &one, d.x.get(), s.at(x_), wdesc_, s.at(w_), cdesc_, algo,
                                                   s.workspace, workspace, &zero, d.y.get(), y));
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

 private:
  const BatchDescs& descs(int batch, cudnnHandle_t handle) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = descs_[batch];
    if (!slot) {
      auto d = std::make_unique<BatchDescs>();
      d->x.set(label(), layout_, dtype_, xv_.dims_at(batch));
      d->y.set(label(), layout_, dtype_, yv_.dims_at(batch));
      if (batch != max_batch_) {
        size_t ws = 0;
        d->use_fallback = cudnnGetConvolutionForwardWorkspaceSize(handle, d->x.get(), wdesc_, cdesc_,
                                                                  d->y.get(), algo_, &ws) != CUDNN_STATUS_SUCCESS ||
                          ws > workspace_;
      }
      slot = std::move(d);
    }
    return *slot;
  }

  int x_ = -1, w_ = -1, b_ = -1, z_ = -1, b32_ = -1, y_ = -1;
  DeviceValue xv_, yv_;
  Layout layout_ = Layout::kNCHW;
  DType dtype_ = DType::kF32;
  kernels::Activation act_;
  cudnnFilterDescriptor_t wdesc_ = nullptr;
  cudnnConvolutionDescriptor_t cdesc_ = nullptr;
  cudnnActivationDescriptor_t adesc_ = nullptr;
  TensorDesc bias_desc_;
  bool fusable_ = false, needs_epilogue_ = false;
  std::string key_;
  int max_batch_ = 1;
  cudnnConvolutionFwdAlgo_t algo_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  bool fused_ = false;
  size_t workspace_ = 0;
  double ms_ = 0;
  nlohmann::json chosen_;
  std::mutex mutex_;
  std::map<int, std::unique_ptr<BatchDescs>> descs_;
};

}  // namespace

std::unique_ptr<DeviceOp> make_conv_op(const ir::Node& node, const std::vector<DeviceValue>& values,
                                       Precision precision) {
  return std::make_unique<ConvOp>(node, values, precision);
}

}  // namespace kiln::cuda
