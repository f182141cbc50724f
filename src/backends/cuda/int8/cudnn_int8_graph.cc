#include "backends/cuda/int8/cudnn_int8_graph.h"

#include <cuda_runtime.h>

#include <map>
#include <mutex>

#include "core/error.h"

namespace kiln::cuda::int8 {

namespace {

// The handle attributes of operation graphs and execution plans are marked deprecated in
// cuDNN 9 (device properties may replace them) but are still what the 9.x samples set.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
constexpr cudnnBackendAttributeName_t kGraphHandle = CUDNN_ATTR_OPERATIONGRAPH_HANDLE;
constexpr cudnnBackendAttributeName_t kPlanHandle = CUDNN_ATTR_EXECUTION_PLAN_HANDLE;
#pragma GCC diagnostic pop

// Dims and strides of a rank-4 tensor in logical [N,C,H,W] order stored channels-last.
struct Nhwc {
  std::vector<int64_t> dims, strides;
};
Nhwc nhwc(int64_t n, int64_t c, int64_t h, int64_t w) { return {{n, c, h, w}, {h * w * c, 1, w * c, c}}; }

}  // namespace

void check_backend(cudnnStatus_t status, const std::string& what) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  char message[512] = {0};
  cudnnGetLastErrorString(message, sizeof(message));
  fail_with(ErrorCode::kUnimplemented, "cuDNN graph: {} failed: {}{}{}", what, cudnnGetErrorString(status),
            message[0] ? ": " : "", message);
}

BackendDesc::BackendDesc(cudnnBackendDescriptorType_t type) {
  check_backend(cudnnBackendCreateDescriptor(type, &d_), fmt::format("cudnnBackendCreateDescriptor(type {})",
                                                                     static_cast<int>(type)));
}

BackendDesc::~BackendDesc() {
  if (d_) cudnnBackendDestroyDescriptor(d_);
}

BackendDesc& BackendDesc::operator=(BackendDesc&& o) noexcept {
  if (this != &o) {
    if (d_) cudnnBackendDestroyDescriptor(d_);
    d_ = std::exchange(o.d_, nullptr);
  }
  return *this;
}

void BackendDesc::set(const char* what, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
                      int64_t count, const void* values) {
  check_backend(cudnnBackendSetAttribute(d_, name, type, count, values), fmt::format("setting {}", what));
}

void BackendDesc::finalize(const char* what) {
  check_backend(cudnnBackendFinalize(d_), fmt::format("finalizing {}", what));
}

namespace {
const char* type_tag(cudnnDataType_t t) {
  switch (t) {
    case CUDNN_DATA_HALF: return "f16";
    case CUDNN_DATA_INT8: return "i8";
    case CUDNN_DATA_FP8_E4M3: return "e4m3";
    case CUDNN_DATA_FLOAT: return "f32";
    default: return "?";
  }
}
}  // namespace

std::string FusedConvSpec::describe() const {
  return fmt::format("{} x[{},{},{},{}] w[{},{},{},{}] y[{},{},{},{}] pad {},{} stride {},{} dil {},{}{}{}{} y {}",
                     type_tag(io_type), n, c, h, w, k, c, r, s, n, k, ho, wo, pad_h, pad_w, stride_h, stride_w, dil_h,
                     dil_w, residual ? fmt::format(" +z({})", type_tag(z_type)) : "", relu ? " relu" : "",
                     y_clip > 0 ? fmt::format(" clip {}", y_clip) : "", type_tag(y_type));
}

// ---- EngineChoice ----

nlohmann::json EngineChoice::to_json() const {
  nlohmann::json knob_list = nlohmann::json::array();
  for (const auto& [type, value] : knobs) knob_list.push_back({type, value});
  return {{"engine", engine}, {"knobs", knob_list}};
}

EngineChoice EngineChoice::from_json(const nlohmann::json& j) {
  EngineChoice c;
  try {
    c.engine = j.at("engine").get<int64_t>();
    for (const auto& k : j.value("knobs", nlohmann::json::array()))
      c.knobs.emplace_back(k.at(0).get<int64_t>(), k.at(1).get<int64_t>());
  } catch (const nlohmann::json::exception& e) {
    fail("cuDNN graph tactic: {}", e.what());
  }
  return c;
}

std::string EngineChoice::describe() const {
  std::string s = fmt::format("engine {}", engine);
  if (!knobs.empty()) {
    s += " knobs ";
    for (size_t i = 0; i < knobs.size(); ++i) s += fmt::format("{}{}={}", i ? "," : "", knobs[i].first, knobs[i].second);
  }
  return s;
}

// ---- FusedConvGraph ----

FusedConvGraph::FusedConvGraph(cudnnHandle_t handle, const FusedConvSpec& sp) : handle_(handle), spec_(sp) {
  auto tensor = [&](int64_t uid, cudnnDataType_t type, const Nhwc& shape, bool is_virtual) -> const BackendDesc& {
    BackendDesc t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    t.set("TENSOR_DATA_TYPE", CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
    t.set_i64("TENSOR_DIMENSIONS", CUDNN_ATTR_TENSOR_DIMENSIONS, shape.dims);
    t.set_i64("TENSOR_STRIDES", CUDNN_ATTR_TENSOR_STRIDES, shape.strides);
    t.set_i64("TENSOR_UNIQUE_ID", CUDNN_ATTR_TENSOR_UNIQUE_ID, {uid});
    // Arena, weight and cudaMalloc'ed buffers are all 256-byte aligned; 16 is what engines ask.
    t.set_i64("TENSOR_BYTE_ALIGNMENT", CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, {16});
    const bool v = is_virtual;
    t.set("TENSOR_IS_VIRTUAL", CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v);
    t.finalize(fmt::format("tensor {}", uid).c_str());
    keep_.push_back(std::move(t));
    return keep_.back();
  };
  keep_.reserve(64);  // references returned by tensor() must stay valid (a graph holds ~25)
  const Nhwc per_channel = {{1, sp.k, 1, 1}, {sp.k, 1, sp.k, sp.k}};
  const Nhwc out = nhwc(sp.n, sp.k, sp.ho, sp.wo);
  const BackendDesc& x = tensor(kUidX, sp.io_type, nhwc(sp.n, sp.c, sp.h, sp.w), false);
  // KRSC: filters `w_filter_stride` elements apart, so the first k of a padded set can be used.
  const Nhwc wshape = {{sp.k, sp.c, sp.r, sp.s}, {sp.w_filter_stride, 1, sp.s * sp.c, sp.c}};
  const BackendDesc& w = tensor(kUidW, sp.io_type, wshape, false);
  const BackendDesc& scale = tensor(kUidScale, CUDNN_DATA_FLOAT, per_channel, false);
  const BackendDesc& bias = tensor(kUidBias, CUDNN_DATA_FLOAT, per_channel, false);
  const BackendDesc& y = tensor(kUidY, sp.y_type, out, false);
  int64_t next_virtual = 100;
  auto virt = [&]() -> const BackendDesc& { return tensor(next_virtual++, CUDNN_DATA_FLOAT, out, true); };

  BackendDesc conv(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const int64_t spatial = 2;
  conv.set_i64("CONVOLUTION_SPATIAL_DIMS", CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, {spatial});
  conv.set("CONVOLUTION_COMP_TYPE", CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &sp.compute_type);
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  conv.set("CONVOLUTION_CONV_MODE", CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  conv.set_i64("CONVOLUTION_DILATIONS", CUDNN_ATTR_CONVOLUTION_DILATIONS, {sp.dil_h, sp.dil_w});
  conv.set_i64("CONVOLUTION_FILTER_STRIDES", CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, {sp.stride_h, sp.stride_w});
  conv.set_i64("CONVOLUTION_PRE_PADDINGS", CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, {sp.pad_h, sp.pad_w});
  conv.set_i64("CONVOLUTION_POST_PADDINGS", CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, {sp.pad_h, sp.pad_w});
  conv.finalize("convolution descriptor");

  std::vector<cudnnBackendDescriptor_t> ops;
  const BackendDesc& acc = virt();
  {
    BackendDesc op(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
    op.set_desc("CONVOLUTION_FORWARD_X", CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x);
    op.set_desc("CONVOLUTION_FORWARD_W", CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w);
    op.set_desc("CONVOLUTION_FORWARD_Y", CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, acc);
    op.set_desc("CONVOLUTION_FORWARD_CONV_DESC", CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv);
    // Blend factors are FLOAT for every compute type but DOUBLE.
    const float alpha = 1.0f, beta = 0.0f;
    op.set("CONVOLUTION_FORWARD_ALPHA", CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
    op.set("CONVOLUTION_FORWARD_BETA", CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
    op.finalize("convolution forward operation");
    ops.push_back(op.get());
    keep_.push_back(std::move(conv));
    keep_.push_back(std::move(op));
  }

  // One pointwise stage: out = mode(in, b) (b null for unary modes).
  // `clip` (RELU_FWD only): {lower, upper} bounds, FLOAT like the math precision.
  auto pointwise = [&](cudnnPointwiseMode_t pw_mode, const BackendDesc& in, const BackendDesc* b,
                       const BackendDesc& result, const char* what, const float* clip = nullptr) {
    BackendDesc pw(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    pw.set("POINTWISE_MODE", CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &pw_mode);
    const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    pw.set("POINTWISE_MATH_PREC", CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec);
    if (clip) {
      pw.set("POINTWISE_RELU_LOWER_CLIP", CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP, CUDNN_TYPE_FLOAT, 1, &clip[0]);
      pw.set("POINTWISE_RELU_UPPER_CLIP", CUDNN_ATTR_POINTWISE_RELU_UPPER_CLIP, CUDNN_TYPE_FLOAT, 1, &clip[1]);
    }
    pw.finalize(what);
    BackendDesc op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    op.set_desc("OPERATION_POINTWISE_PW_DESCRIPTOR", CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw);
    op.set_desc("OPERATION_POINTWISE_XDESC", CUDNN_ATTR_OPERATION_POINTWISE_XDESC, in);
    if (b) op.set_desc("OPERATION_POINTWISE_BDESC", CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
    op.set_desc("OPERATION_POINTWISE_YDESC", CUDNN_ATTR_OPERATION_POINTWISE_YDESC, result);
    op.finalize(what);
    ops.push_back(op.get());
    keep_.push_back(std::move(pw));
    keep_.push_back(std::move(op));
  };
  // The last stage writes y; the others virtual f32 tensors.
  const bool clamp = sp.y_clip > 0;
  const int stages = 2 + (sp.residual ? 2 : 0) + (sp.relu || clamp ? 1 : 0);
  int stage = 0;
  auto target = [&]() -> const BackendDesc& { return ++stage == stages ? y : virt(); };
  const BackendDesc& scaled = target();
  pointwise(CUDNN_POINTWISE_MUL, acc, &scale, scaled, "pointwise MUL scale");
  const BackendDesc* v = &target();
  pointwise(CUDNN_POINTWISE_ADD, scaled, &bias, *v, "pointwise ADD bias");
  if (sp.residual) {
    const int64_t zc = sp.z_channel_stride > 0 ? sp.z_channel_stride : sp.k;
    const Nhwc z_shape = {out.dims, {sp.ho * sp.wo * zc, 1, sp.wo * zc, zc}};
    const BackendDesc& z = tensor(kUidZ, sp.z_type, z_shape, false);
    const BackendDesc& z_scale = tensor(kUidZScale, CUDNN_DATA_FLOAT, per_channel, false);
    const BackendDesc& z_scaled = virt();
    ++stage;  // z_scaled is an extra virtual stage, never y
    pointwise(CUDNN_POINTWISE_MUL, z, &z_scale, z_scaled, "pointwise MUL residual scale");
    const BackendDesc& sum = target();
    pointwise(CUDNN_POINTWISE_ADD, *v, &z_scaled, sum, "pointwise ADD residual");
    v = &sum;
  }
  if (clamp) {  // relu folded into the clamp's lower bound
    const float bounds[2] = {sp.relu ? 0.0f : -sp.y_clip, sp.y_clip};
    const BackendDesc& r = target();
    pointwise(CUDNN_POINTWISE_RELU_FWD, *v, nullptr, r, "pointwise RELU clamp", bounds);
  } else if (sp.relu) {
    const BackendDesc& r = target();
    pointwise(CUDNN_POINTWISE_RELU_FWD, *v, nullptr, r, "pointwise RELU");
  }

  graph_ = BackendDesc(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  graph_.set("OPERATIONGRAPH_HANDLE", kGraphHandle, CUDNN_TYPE_HANDLE, 1, &handle_);
  graph_.set("OPERATIONGRAPH_OPS", CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
             static_cast<int64_t>(ops.size()), ops.data());
  graph_.finalize("operation graph");
}

std::vector<EngineChoice> FusedConvGraph::candidates(int max_count, std::vector<std::string>* notes) const {
  std::vector<EngineChoice> out;
  const std::pair<cudnnBackendHeurMode_t, const char*> modes[] = {{CUDNN_HEUR_MODE_INSTANT, "instant"},
                                                                  {CUDNN_HEUR_MODE_FALLBACK, "fallback"}};
  for (const auto& [mode, name] : modes) {
    if (static_cast<int>(out.size()) >= max_count) break;
    try {
      BackendDesc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
      heur.set_desc("ENGINEHEUR_OPERATION_GRAPH", CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph_);
      heur.set("ENGINEHEUR_MODE", CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
      heur.finalize(fmt::format("{} heuristics", name).c_str());
      int64_t count = 0;
      check_backend(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                             0, &count, nullptr),
                    fmt::format("counting {} heuristic results", name));
      if (count <= 0) {
        if (notes) notes->push_back(fmt::format("{} heuristics: no engine", name));
        continue;
      }
      std::vector<BackendDesc> cfgs;
      std::vector<cudnnBackendDescriptor_t> raw;
      for (int64_t i = 0; i < count; ++i) {
        cfgs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
        raw.push_back(cfgs.back().get());
      }
      int64_t got = 0;
      check_backend(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                             count, &got, raw.data()),
                    fmt::format("reading {} heuristic results", name));
      for (int64_t i = 0; i < got && static_cast<int>(out.size()) < max_count; ++i) {
        EngineChoice c;
        c.source = name;
        BackendDesc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
        cudnnBackendDescriptor_t engine_raw = engine.get();
        int64_t n = 0;
        // A configuration the engine cannot read back is not usable: skip it, keep the rest.
        if (cudnnBackendGetAttribute(raw[i], CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n,
                                     &engine_raw) != CUDNN_STATUS_SUCCESS ||
            cudnnBackendGetAttribute(engine_raw, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n,
                                     &c.engine) != CUDNN_STATUS_SUCCESS) {
          if (notes) notes->push_back(fmt::format("{} result {}: engine index unreadable", name, i));
          continue;
        }
        int64_t n_knobs = 0;
        if (cudnnBackendGetAttribute(raw[i], CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                     &n_knobs, nullptr) == CUDNN_STATUS_SUCCESS &&
            n_knobs > 0) {
          std::vector<BackendDesc> knobs;
          std::vector<cudnnBackendDescriptor_t> knob_raw;
          for (int64_t k = 0; k < n_knobs; ++k) {
            knobs.emplace_back(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR);
            knob_raw.push_back(knobs.back().get());
          }
          int64_t read = 0;
          check_backend(cudnnBackendGetAttribute(raw[i], CUDNN_ATTR_ENGINECFG_KNOB_CHOICES,
                                                 CUDNN_TYPE_BACKEND_DESCRIPTOR, n_knobs, &read, knob_raw.data()),
                        "reading knob choices");
          for (int64_t k = 0; k < read; ++k) {
            cudnnBackendKnobType_t type{};
            int64_t value = 0, m = 0;
            check_backend(cudnnBackendGetAttribute(knob_raw[k], CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE,
                                                   1, &m, &type),
                          "reading a knob type");
            check_backend(cudnnBackendGetAttribute(knob_raw[k], CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1,
                                                   &m, &value),
                          "reading a knob value");
            c.knobs.emplace_back(static_cast<int64_t>(type), value);
          }
        }
        bool duplicate = false;
        for (const EngineChoice& o : out) duplicate = duplicate || o == c;
        if (!duplicate) out.push_back(std::move(c));
      }
    } catch (const Error& e) {
      if (notes) notes->push_back(e.what());
    }
  }
  return out;
}

std::unique_ptr<FusedConvPlan> FusedConvGraph::make_plan(const EngineChoice& choice) const {
  auto plan = std::make_unique<FusedConvPlan>();
  plan->choice_ = choice;
  plan->residual_ = spec_.residual;
  BackendDesc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  engine.set_desc("ENGINE_OPERATION_GRAPH", CUDNN_ATTR_ENGINE_OPERATION_GRAPH, graph_);
  engine.set_i64("ENGINE_GLOBAL_INDEX", CUDNN_ATTR_ENGINE_GLOBAL_INDEX, {choice.engine});
  engine.finalize(fmt::format("engine {}", choice.engine).c_str());
  std::vector<BackendDesc> knobs;
  std::vector<cudnnBackendDescriptor_t> knob_raw;
  for (const auto& [type, value] : choice.knobs) {
    BackendDesc k(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR);
    const auto knob_type = static_cast<cudnnBackendKnobType_t>(type);
    k.set("KNOB_CHOICE_KNOB_TYPE", CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &knob_type);
    k.set_i64("KNOB_CHOICE_KNOB_VALUE", CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, {value});
    k.finalize("knob choice");
    knob_raw.push_back(k.get());
    knobs.push_back(std::move(k));
  }
  BackendDesc cfg(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
  cfg.set_desc("ENGINECFG_ENGINE", CUDNN_ATTR_ENGINECFG_ENGINE, engine);
  if (!knob_raw.empty())
    cfg.set("ENGINECFG_KNOB_CHOICES", CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR,
            static_cast<int64_t>(knob_raw.size()), knob_raw.data());
  cfg.finalize(fmt::format("engine config ({})", choice.describe()).c_str());
  plan->plan_ = BackendDesc(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
  plan->plan_.set("EXECUTION_PLAN_HANDLE", kPlanHandle, CUDNN_TYPE_HANDLE, 1, &handle_);
  plan->plan_.set_desc("EXECUTION_PLAN_ENGINE_CONFIG", CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg);
  // Runtime-fusion engines compile their kernel here (about a second each).
  plan->plan_.finalize(fmt::format("execution plan ({})", choice.describe()).c_str());
  int64_t ws = 0, n = 0;
  check_backend(cudnnBackendGetAttribute(plan->plan_.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64,
                                         1, &n, &ws),
                "reading the plan's workspace size");
  plan->workspace_ = static_cast<size_t>(ws < 0 ? 0 : ws);
  return plan;
}

void FusedConvPlan::execute(cudnnHandle_t handle, const FusedConvPointers& p, void* workspace) const {
  std::vector<void*> ptrs = {const_cast<void*>(p.x), const_cast<void*>(p.w), const_cast<float*>(p.scale),
                             const_cast<float*>(p.bias), p.y};
  std::vector<int64_t> uids = {kUidX, kUidW, kUidScale, kUidBias, kUidY};
  if (residual_) {
    ptrs.push_back(const_cast<void*>(p.z));
    ptrs.push_back(const_cast<float*>(p.z_scale));
    uids.push_back(kUidZ);
    uids.push_back(kUidZScale);
  }
  BackendDesc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  pack.set("VARIANT_PACK_DATA_POINTERS", CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
           static_cast<int64_t>(ptrs.size()), ptrs.data());
  pack.set_i64("VARIANT_PACK_UNIQUE_IDS", CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, uids);
  pack.set("VARIANT_PACK_WORKSPACE", CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
  pack.finalize("variant pack");
  check_backend(cudnnBackendExecute(handle, plan_.get(), pack.get()),
                fmt::format("cudnnBackendExecute ({})", choice_.describe()));
}

cudnnHandle_t graph_build_handle() {
  static std::mutex mutex;
  static std::map<int, cudnnHandle_t> handles;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) fail("cuDNN graph: no current CUDA device");
  std::lock_guard<std::mutex> lock(mutex);
  cudnnHandle_t& h = handles[device];
  if (!h) check_backend(cudnnCreate(&h), "cudnnCreate");
  return h;
}

}  // namespace kiln::cuda::int8
