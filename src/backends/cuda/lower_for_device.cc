#include "backends/cuda/lower_for_device.h"

#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "ir/shape_inference.h"

namespace kiln::cuda {

namespace {

const std::set<std::string> kConvOps = {"Conv", "FusedConv"};
const std::set<std::string> kPoolOps = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"};
const std::set<std::string> kUnaryOps = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish"};
const std::set<std::string> kBinaryOps = {"Add", "Sub", "Mul", "Div"};
const std::set<std::string> kReshapeOps = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"};
const std::set<std::string> kGemmOps = {"Gemm", "FusedGemm", "MatMul"};
const std::set<std::string> kOtherOps = {"BatchNormalization", "Softmax", "LogSoftmax", "Concat"};

const char* layout_name(Layout l) { return l == Layout::kNHWC ? "nhwc" : "nchw"; }

class Lowering {
 public:
  Lowering(const ir::Graph& src, const std::vector<bool>& batched, Precision precision)
      : src_(src), native_(precision == Precision::kNative), act_(activation_dtype(precision)) {
    out_.graph = src;
    out_.graph.nodes.clear();
    out_.layouts.assign(src.values.size(), Layout::kNCHW);
    out_.batched = batched;
  }

  LoweredGraph run() {
    for (int v : src_.inputs) {
      const ir::Value& value = src_.value(v);
      if (value.dtype != DType::kF32)
        fail_with(ErrorCode::kUnimplemented, "input '{}' is {}; the CUDA backend takes f32 inputs", value.name,
                  dtype_name(value.dtype));
    }
    for (const ir::Node& node : src_.nodes) {
      try {
        lower(node);
      } catch (const Error& e) {
        throw Error(fmt::format("node \"{}\" ({}): {}", node.name, node.op, e.what()), e.code());
      }
    }
    for (int& v : out_.graph.outputs) v = want(v, DType::kF32, Layout::kNCHW);
    return std::move(out_);
  }

 private:
  ir::Graph& g() { return out_.graph; }
  int rank(int v) { return static_cast<int>(g().value(v).dims.size()); }
  Layout image_layout() const { return native_ ? Layout::kNCHW : Layout::kNHWC; }

  // Value `v` in dtype `dt` and memory order `l`, adding a conversion (once) when needed.
  int want(int v, DType dt, Layout l) {
    if (rank(v) != 4) l = Layout::kNCHW;
    const ir::Value& value = g().value(v);
    if (value.dtype == dt && out_.layouts[v] == l) return v;
    const auto key = std::make_tuple(v, dt, l);
    if (auto it = converted_.find(key); it != converted_.end()) return it->second;
    const std::string name = fmt::format("{}:{}_{}", value.name, dtype_name(dt), layout_name(l));
    int nv;
    if (value.is_constant()) {
      nv = g().add_constant(name, convert_constant(*value.constant, dt, l));
    } else {
      nv = g().add_value(name, dt, value.dims);
      ir::Node conv;
      conv.name = name;
      // Same bytes in both orders when H = W = 1: relabel instead of copying.
      const bool same_bytes = value.dtype == dt && value.dims.size() == 4 && value.dims[2] * value.dims[3] == 1;
      conv.op = same_bytes ? "Identity" : "Convert";
      conv.domain = same_bytes ? "" : "kiln";
      conv.inputs = {v};
      conv.outputs = {nv};
      conv.attrs.set("layout", static_cast<int64_t>(l));
      g().add_node(std::move(conv));
    }
    out_.layouts.push_back(l);
    out_.batched.push_back(out_.batched[v] && !value.is_constant());
    converted_[key] = nv;
    return nv;
  }

  void set_out(int v, DType dt, Layout l) {
    g().value(v).dtype = dt;
    out_.layouts[v] = rank(v) == 4 ? l : Layout::kNCHW;
  }

  DType float_dtype_of(int v) {
    const DType d = g().value(v).dtype;
    if (!kernels::is_kernel_float(d))
      fail_with(ErrorCode::kUnimplemented, "input '{}' is {}; only f32/f16/bf16 tensors run on the GPU",
                g().value(v).name, dtype_name(d));
    return d;
  }

  void require_constant(const ir::Node& n, size_t i, const char* what) {
    if (n.has_input(i) && !g().value(n.inputs[i]).is_constant())
      fail_with(ErrorCode::kUnimplemented, "{} '{}' must be a constant (weights) on the CUDA backend", what,
                g().value(n.inputs[i]).name);
  }

  void lower(const ir::Node& src_node) {
    ir::Node n = src_node;
    const std::string& op = n.op;
    if (!cuda_supports_op(op) || (n.domain == "kiln" && op != "FusedConv" && op != "FusedGemm"))
      fail_with(ErrorCode::kUnimplemented, "op not supported by the CUDA backend");
    auto& in = n.inputs;
    if (kConvOps.count(op)) {
      if (rank(in[0]) != 4) fail_with(ErrorCode::kUnimplemented, "only 2-D convolutions (4-D inputs) run on the GPU");
      require_constant(n, 1, "weight");
      require_constant(n, 2, "bias");
      const Layout l = image_layout();
      in.resize(5, ir::kNoValue);
      if (!n.has_input(2)) {  // cuDNN's fused path always adds a bias
        const int64_t k = g().value(in[1]).dims.at(0);
        in[2] = g().add_constant(n.name + ":zero_bias", Tensor(DType::kF32, {k}));
        out_.layouts.push_back(Layout::kNCHW);
        out_.batched.push_back(false);
      }
      const int bias = in[2];
      in[0] = want(in[0], act_, l);
      in[1] = want(in[1], act_, l);
      in[2] = want(bias, act_, Layout::kNCHW);      // for cuDNN's fused bias
      in[4] = want(bias, DType::kF32, Layout::kNCHW);  // for the epilogue kernel
      if (n.has_input(3)) in[3] = want(in[3], act_, l);
      set_out(n.outputs[0], act_, l);
    } else if (kPoolOps.count(op) || kUnaryOps.count(op)) {
      const DType d = float_dtype_of(in[0]);
      if (op == "Clip") {  // opset-17 min/max inputs become attributes the kernel reads
        require_constant(n, 1, "min");
        require_constant(n, 2, "max");
        if (n.has_input(1)) n.attrs.set("min", static_cast<float>(g().value(in[1]).constant->to_doubles().at(0)));
        if (n.has_input(2)) n.attrs.set("max", static_cast<float>(g().value(in[2]).constant->to_doubles().at(0)));
        in.resize(1);
      }
      set_out(n.outputs[0], d, out_.layouts[in[0]]);
    } else if (op == "BatchNormalization") {
      for (size_t i = 1; i < 5; ++i) require_constant(n, i, "batch-norm parameter");
      const DType d = float_dtype_of(in[0]);
      // Inference batch norm is a per-channel affine map: y = x * scale + shift.
      const float eps = n.attrs.get_float("epsilon", 1e-5f);
      auto param = [&](size_t i) { return g().value(in[i]).constant->to_doubles(); };
      const auto gamma = param(1), beta = param(2), mean = param(3), var = param(4);
      std::vector<float> scale(gamma.size()), shift(gamma.size());
      for (size_t c = 0; c < gamma.size(); ++c) {
        scale[c] = static_cast<float>(gamma[c] / std::sqrt(var.at(c) + eps));
        shift[c] = static_cast<float>(beta.at(c) - mean.at(c) * scale[c]);
      }
      const Dims cdims = {static_cast<int64_t>(scale.size())};
      const int s = g().add_constant(n.name + ":bn_scale", Tensor::from_vector<float>(cdims, scale));
      const int t = g().add_constant(n.name + ":bn_shift", Tensor::from_vector<float>(cdims, shift));
      out_.layouts.insert(out_.layouts.end(), 2, Layout::kNCHW);
      out_.batched.insert(out_.batched.end(), 2, false);
      in = {in[0], s, t};
      n.outputs.resize(1);
      set_out(n.outputs[0], d, out_.layouts[in[0]]);
    } else if (kBinaryOps.count(op)) {
      lower_binary(n);
    } else if (op == "Softmax" || op == "LogSoftmax") {
      in[0] = want(in[0], float_dtype_of(in[0]), Layout::kNCHW);
      const Dims& d = g().value(in[0]).dims;
      const int64_t axis = normalize_axis(n.attrs.get_int("axis", -1), static_cast<int64_t>(d.size()));
      int64_t trailing = 1;
      for (size_t i = static_cast<size_t>(axis) + 1; i < d.size(); ++i) trailing *= d[i];
      if (trailing != 1) fail_with(ErrorCode::kUnimplemented, "softmax over a non-last axis of {}", dims_to_string(d));
      set_out(n.outputs[0], DType::kF32, Layout::kNCHW);
    } else if (kReshapeOps.count(op)) {
      const ir::Value& x = g().value(in[0]);
      const bool same_bytes = x.dims.size() == 4 && x.dims[2] * x.dims[3] == 1;
      if (!(out_.layouts[in[0]] == Layout::kNHWC && same_bytes)) in[0] = want(in[0], x.dtype, Layout::kNCHW);
      const DType d = g().value(in[0]).dtype;
      in.resize(1);
      if (n.outputs.size() > 1 && !g().consumers(n.outputs[1]).empty())
        fail_with(ErrorCode::kUnimplemented, "the second output of {} is not supported", op);
      n.outputs.resize(1);
      set_out(n.outputs[0], d, Layout::kNCHW);
    } else if (kGemmOps.count(op)) {
      require_constant(n, 1, "B (weights)");
      require_constant(n, 2, "C (bias)");
      if (rank(in[0]) != 2 || rank(in[1]) != 2)
        fail_with(ErrorCode::kUnimplemented, "only 2-D GEMM/MatMul operands run on the GPU");
      in[0] = want(in[0], act_, Layout::kNCHW);
      in[1] = want(in[1], act_, Layout::kNCHW);
      if (n.has_input(2)) {
        const float beta = n.op == "MatMul" ? 1.0f : n.attrs.get_float("beta", 1.0f);
        if (beta != 1.0f) {  // the epilogue adds the bias unscaled
          const Tensor& c = *g().value(in[2]).constant;
          std::vector<double> vals = c.to_doubles();
          std::vector<float> scaled(vals.size());
          for (size_t i = 0; i < vals.size(); ++i) scaled[i] = static_cast<float>(vals[i] * beta);
          in[2] = g().add_constant(n.name + ":scaled_bias", Tensor::from_vector<float>(c.dims(), scaled));
          out_.layouts.push_back(Layout::kNCHW);
          out_.batched.push_back(false);
        }
        in[2] = want(in[2], DType::kF32, Layout::kNCHW);
      }
      set_out(n.outputs[0], DType::kF32, Layout::kNCHW);
    } else if (op == "Concat") {
      int ref = -1;
      for (int v : in) if (!g().value(v).is_constant()) { ref = v; break; }
      if (ref < 0) fail("Concat of constants only should have been folded");
      Layout l = out_.layouts[ref];
      for (int v : in) if (rank(v) != 4) l = Layout::kNCHW;
      const DType d = float_dtype_of(ref);
      for (int& v : in) v = want(v, d, l);
      set_out(n.outputs[0], d, l);
    }
    g().add_node(std::move(n));
  }

  void lower_binary(ir::Node& n) {
    auto& in = n.inputs;
    int ref = -1;
    for (int v : in) if (!g().value(v).is_constant()) { ref = v; break; }
    if (ref < 0) fail("a binary op on constants only should have been folded");
    const DType d = float_dtype_of(ref);
    Layout l = out_.layouts[ref];
    for (int v : in)
      if (!g().value(v).is_constant() && rank(v) != 4) l = Layout::kNCHW;
    for (int& v : in) {
      ir::Value& value = g().value(v);
      if (value.is_constant() && l == Layout::kNHWC && value.dims.size() < 4) {
        // Broadcast constants become rank 4 so that they can be stored in NHWC order.
        Dims padded(4 - value.dims.size(), 1);
        padded.insert(padded.end(), value.dims.begin(), value.dims.end());
        const std::string name = value.name + ":rank4";
        v = g().add_constant(name, value.constant->reshaped(padded));
        out_.layouts.push_back(Layout::kNCHW);
        out_.batched.push_back(false);
      }
      v = want(v, d, l);
    }
    set_out(n.outputs[0], d, l);
  }

  const ir::Graph& src_;
  bool native_;
  DType act_;
  LoweredGraph out_;
  std::map<std::tuple<int, DType, Layout>, int> converted_;
};

// dims[0] of every graph input set to `batch`, shapes inferred again.
ir::Graph with_batch(const ir::Graph& graph, int64_t batch) {
  ir::Graph g = graph;
  for (int v : g.inputs)
    if (!g.value(v).dims.empty()) g.value(v).dims[0] = batch;
  ir::infer_shapes(g);
  return g;
}

}  // namespace

DType activation_dtype(Precision precision) {
  switch (precision) {
    case Precision::kNative:
    case Precision::kFP32:
    case Precision::kTF32: return DType::kF32;
    case Precision::kFP16: return DType::kF16;
    case Precision::kBF16: return DType::kBF16;
    default:
      fail_with(ErrorCode::kUnimplemented,
                "precision {} is not supported by the CUDA backend yet (use native, fp32, tf32, fp16 or bf16)",
                precision_name(precision));
  }
}

bool cuda_supports_op(const std::string& op) {
  for (const auto* set : {&kConvOps, &kPoolOps, &kUnaryOps, &kBinaryOps, &kReshapeOps, &kGemmOps, &kOtherOps})
    if (set->count(op)) return true;
  return false;
}

Tensor convert_constant(const Tensor& t, DType dtype, Layout layout) {
  Tensor typed = t.dtype() == dtype ? t : t.cast(dtype);
  if (layout == Layout::kNCHW || t.rank() != 4) return typed;
  const int64_t n = t.dim(0), c = t.dim(1), h = t.dim(2), w = t.dim(3);
  const size_t es = dtype_size(dtype);
  Tensor out(dtype, t.dims());  // logical dims stay NCHW; bytes are in NHWC order
  const auto* src = static_cast<const uint8_t*>(typed.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t in = 0; in < n; ++in)
    for (int64_t ic = 0; ic < c; ++ic)
      for (int64_t ih = 0; ih < h; ++ih)
        for (int64_t iw = 0; iw < w; ++iw)
          std::memcpy(dst + (((in * h + ih) * w + iw) * c + ic) * es, src + (((in * c + ic) * h + ih) * w + iw) * es,
                      es);
  return out;
}

LoweredGraph lower_for_device(const ir::Graph& graph, Precision precision, int max_batch) {
  if (max_batch < 1) fail("max batch size must be at least 1, got {}", max_batch);
  activation_dtype(precision);  // rejects unsupported precisions before any work
  const ir::Graph at_max = with_batch(graph, max_batch);
  const ir::Graph at_next = with_batch(graph, max_batch + 1);
  std::vector<bool> batched(at_max.values.size(), false);
  for (size_t v = 0; v < at_max.values.size(); ++v) {
    const ir::Value& a = at_max.values[v];
    const ir::Value& b = at_next.values[v];
    batched[v] = !a.is_constant() && !a.dims.empty() && a.dims[0] != b.dims[0];
  }
  return Lowering(at_max, batched, precision).run();
}

}  // namespace kiln::cuda
