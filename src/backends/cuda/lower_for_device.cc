#include "backends/cuda/lower_for_device.h"

#include <cmath>
#include <cstring>
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "backends/cuda/int8/int8_lowering.h"
#include "ir/shape_inference.h"
#include "quant/space_to_depth.h"

namespace kiln::cuda {

namespace {

const std::set<std::string> kConvOps = {"Conv", "FusedConv"};
const std::set<std::string> kPoolOps = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"};
const std::set<std::string> kUnaryOps = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish"};
const std::set<std::string> kBinaryOps = {"Add", "Sub", "Mul", "Div"};
const std::set<std::string> kReshapeOps = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"};
const std::set<std::string> kGemmOps = {"Gemm", "FusedGemm", "MatMul"};
const std::set<std::string> kOtherOps = {"BatchNormalization", "Softmax", "LogSoftmax", "Concat"};
// Classifier tails of TensorFlow graphs: global pooling written as a mean, ArgMax, int casts.
const std::set<std::string> kTailOps = {"ReduceMean", "ArgMax", "Cast"};
const std::set<std::string> kMovementOps = {"Slice", "Split", "Pad", "Transpose"};

const char* layout_name(Layout l) { return l == Layout::kNHWC ? "nhwc" : "nchw"; }

class Lowering {
 public:
  Lowering(const ir::Graph& src, const std::vector<bool>& batched, Precision precision,
           const quant::CalibrationTable* table, const std::set<std::string>* int8_nodes)
      : src_(src), native_(precision == Precision::kNative), strict_fp32_(precision == Precision::kFP32),
        act_(activation_dtype(precision)) {
    if (precision == Precision::kINT8 || precision == Precision::kFP8 || precision == Precision::kBest) {
      if (!table) fail("--precision {} needs a calibration table", precision_name(precision));
      table_ = table;
      qtype_ = precision == Precision::kFP8 ? DType::kFP8E4M3 : DType::kI8;
      int8_ = int8::plan_int8_convs(src, *table, int8::min_int8_input_channels(),
                                    precision == Precision::kBest ? int8_nodes : nullptr,
                                    /*quantized_max_pools=*/true);
    }
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
        const size_t index = static_cast<size_t>(&node - src_.nodes.data());
        if (table_ && int8_.conv_runs_int8[index]) lower_int8_conv(node);
        else if (table_ && int8_.pool_runs_int8[index]) lower_quantized_max_pool(node);
        else lower(node);
      } catch (const Error& e) {
        throw Error(fmt::format("node \"{}\" ({}): {}", node.name, node.op, e.what()), e.code());
      }
    }
    // Float outputs leave as f32 NCHW; integer outputs (class indices) as they are.
    for (int& v : out_.graph.outputs)
      v = want(v, kernels::is_kernel_float(g().value(v).dtype) ? DType::kF32 : g().value(v).dtype, Layout::kNCHW);
    return std::move(out_);
  }

 private:
  ir::Graph& g() { return out_.graph; }
  int rank(int v) { return static_cast<int>(g().value(v).dims.size()); }
  // IEEE fp32 stays NCHW: without tensor cores cuDNN's NCHW kernels are the faster ones
  // (measured: NHWC fp32 ran 1.3x slower than NCHW at batch 256 on an H100).
  Layout image_layout() const { return native_ || strict_fp32_ ? Layout::kNCHW : Layout::kNHWC; }

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

  // ReduceMean over H and W of a 4-D tensor is global average pooling (TensorFlow writes
  // global pooling that way); other means do not run on the GPU.
  void lower_spatial_mean(ir::Node& n) {
    const int64_t r = rank(n.inputs[0]);
    std::vector<int64_t> axes = n.attrs.get_ints("axes");
    for (auto& a : axes) a = normalize_axis(a, r);
    std::sort(axes.begin(), axes.end());
    if (r != 4 || axes != std::vector<int64_t>{2, 3})
      fail_with(ErrorCode::kUnimplemented, "ReduceMean runs on the GPU only over H and W of a 4-D tensor");
    n.op = "GlobalAveragePool";
    n.attrs = {};
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
    if (op == "ReduceMean") lower_spatial_mean(n);  // becomes a GlobalAveragePool below
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
      const int weight = in[1];
      in[0] = want(in[0], act_, l);
      in[0] = pad_asymmetric(n, in[0]);
      in[1] = want(in[1], act_, l);
      if (in.size() < 6) in.resize(6, ir::kNoValue);
      in[5] = channel_padded_filter(n, weight, l);
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
    } else if (op == "ArgMax") {
      in[0] = want(in[0], float_dtype_of(in[0]), Layout::kNCHW);
      const int64_t r = rank(in[0]);
      if (r == 0 || normalize_axis(n.attrs.get_int("axis", 0), r) != r - 1 || n.attrs.get_int("select_last_index", 0))
        fail_with(ErrorCode::kUnimplemented, "ArgMax runs on the GPU over the last axis only (first index on ties)");
      set_out(n.outputs[0], DType::kI64, Layout::kNCHW);
    } else if (op == "Cast") {
      const DType to = g().value(n.outputs[0]).dtype;
      if (g().value(in[0]).dtype != DType::kI64 || to != DType::kI32)
        fail_with(ErrorCode::kUnimplemented, "Cast from {} to {} does not run on the GPU (int64 to int32 does)",
                  dtype_name(g().value(in[0]).dtype), dtype_name(to));
      set_out(n.outputs[0], DType::kI32, Layout::kNCHW);
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
    } else if (kMovementOps.count(op)) {
      lower_movement(n);
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

  // Per-tensor scale of a value in the build's quantized type. A value written quantized
  // carries the scale of its plan's scale_of (a convolution output read by a quantized max
  // pool: the pool output's).
  float qscale(int v) const {
    if (static_cast<size_t>(v) < int8_.scale_of.size() && int8_.value_is_int8[v]) v = int8_.scale_of[v];
    const std::string& name = out_.graph.value(v).name;
    return fp8() ? table_->fp8_scale(name) : table_->int8_scale(name);
  }
  bool fp8() const { return qtype_ == DType::kFP8E4M3; }

  // A convolution in INT8 or FP8 (node kiln.Int8Conv / kiln.Fp8Conv, see int8/int8_ops.h):
  // the input is quantized once per value unless its producer already writes the type.
  void lower_int8_conv(const ir::Node& src_node) {
    ir::Node n = src_node;
    const int x = n.inputs[0];
    const float x_scale = qscale(x);
    const std::string tag = fp8() ? ":fp8" : ":int8";
    // A thin stride-2 stem reads its input rewritten space-to-depth, with the filter to match.
    const std::optional<quant::SpaceToDepthStem> stem =
        int8_.value_is_int8[x] || g().value(x).dims[1] >= int8::min_int8_input_channels()
            ? std::nullopt
            : quant::space_to_depth_stem(g(), n);
    int xq = x;
    if (!int8_.value_is_int8[x] && !stem) {
      if (auto it = quantized_.find(x); it != quantized_.end()) {
        xq = it->second;
      } else {
        const int x16 = want(x, act_, Layout::kNHWC);
        Dims d = g().value(x).dims;
        d[1] = int8::pad_channels(d[1], qtype_);
        xq = add_quantized_value(x, g().value(x).name + tag, d);
        g().add_node(quantize_node(x16, xq, x_scale));
        quantized_[x] = xq;
      }
    }
    if (stem) xq = quantize_space_to_depth(x, *stem, x_scale, tag);
    // (Taken after the values above were added: they may move the graph's values.)
    const Tensor& weights = *g().value(n.inputs[1]).constant;
    const Tensor* bias = n.has_input(2) ? &*g().value(n.inputs[2]).constant : nullptr;
    const int64_t c_pad = g().value(xq).dims[1];
    const int8::Int8ConvConstants k = int8::int8_conv_constants(
        stem ? quant::space_to_depth_filter(weights) : weights, bias, x_scale, c_pad, qtype_);
    auto add_const = [&](const std::string& suffix, const Tensor& t, Layout l) {
      const int v = g().add_constant(n.name + suffix, t);
      out_.layouts.push_back(l);
      out_.batched.push_back(false);
      return v;
    };
    const int w = add_const(tag + "_w", k.weights, Layout::kNHWC);
    const int scale = add_const(tag + "_scale", k.scale, Layout::kNCHW);
    const int b = add_const(tag + "_bias", k.bias, Layout::kNCHW);
    const int y = n.outputs[0];
    const std::string act = n.op == "FusedConv" ? n.attrs.get_string("activation", "none") : "none";
    ir::Node q;
    q.name = n.name;
    q.op = fp8() ? "Fp8Conv" : "Int8Conv";
    q.domain = "kiln";
    q.inputs = {xq, w, scale, b};
    if (n.has_input(3)) {
      const int z = n.inputs[3];
      if (int8_.value_is_int8[z]) {
        q.inputs.push_back(z);
        q.attrs.set("z_scale", qscale(z));
      } else {
        q.inputs.push_back(want(z, DType::kF16, Layout::kNHWC));
      }
    }
    Dims acc_dims = g().value(y).dims;
    acc_dims[1] = k.scale.dim(0);
    const int acc = g().add_value(n.name + tag + "_acc", DType::kF32, acc_dims);
    out_.layouts.push_back(Layout::kNHWC);
    out_.batched.push_back(out_.batched[y]);
    if (int8_.value_is_int8[y]) {
      g().value(y).dims[1] = acc_dims[1];
      set_out(y, qtype_, Layout::kNHWC);
      q.attrs.set("y_inv_scale", 1.0f / qscale(y));
    } else {
      set_out(y, DType::kF16, Layout::kNHWC);
    }
    q.outputs = {y, acc};
    if (stem) {  // the rewritten convolution: stride 1, no padding (the image holds it)
      q.attrs.set("pads", std::vector<int64_t>{0, 0, 0, 0});
      q.attrs.set("strides", std::vector<int64_t>{1, 1});
      q.attrs.set("dilations", std::vector<int64_t>{1, 1});
    } else {
      for (const char* attr : {"pads", "strides", "dilations"})
        if (n.attrs.has(attr)) q.attrs.set(attr, n.attrs.get_ints(attr, {}));
    }
    q.attrs.set("relu", static_cast<int64_t>(act == "relu"));
    g().add_node(std::move(q));
  }

  // A max pool on the quantized output of a convolution (see quant/int8_plan.h): same type,
  // same scale, NHWC; its output takes the (padded) channel count of its input.
  void lower_quantized_max_pool(const ir::Node& src_node) {
    ir::Node n = src_node;
    const int x = n.inputs[0], y = n.outputs[0];
    if (g().value(x).dtype != qtype_ || out_.layouts[x] != Layout::kNHWC)
      fail("the input of a quantized max pool is not {} NHWC", dtype_name(qtype_));
    n.inputs.resize(1);
    g().value(y).dims[1] = g().value(x).dims[1];
    set_out(y, qtype_, Layout::kNHWC);
    g().add_node(std::move(n));
  }

  // The quantized space-to-depth image of `x` for a stem convolution: read as it is when it
  // is f32/f16 (a graph input, NCHW), else from the activation type in NHWC.
  int quantize_space_to_depth(int x, const quant::SpaceToDepthStem& stem, float x_scale, const std::string& tag) {
    const DType d = g().value(x).dtype;
    const int xf = d == DType::kF32 || d == DType::kF16 ? x : want(x, act_, Layout::kNHWC);
    const Dims xd = g().value(x).dims;
    const int xq = add_quantized_value(x, g().value(x).name + tag + "_s2d",
                                       Dims{xd[0], quant::kSpaceToDepthChannels, stem.hs, stem.ws});
    ir::Node q = quantize_node(xf, xq, x_scale);
    q.attrs.set("space_to_depth", std::vector<int64_t>{stem.pad_top, stem.pad_left});
    q.attrs.set("x_nhwc", static_cast<int64_t>(out_.layouts[xf] == Layout::kNHWC));
    g().add_node(std::move(q));
    return xq;
  }

  // A new NHWC value of the build's quantized type, batched as `like`.
  int add_quantized_value(int like, const std::string& name, const Dims& dims) {
    const int v = g().add_value(name, qtype_, dims);
    out_.layouts.push_back(Layout::kNHWC);
    out_.batched.push_back(out_.batched[like]);
    return v;
  }

  // kiln.QuantizeInt8 / kiln.QuantizeFp8 of `x` into `xq` with scale `x_scale` (the node is
  // named after its output, which the `best` build's cost model relies on).
  ir::Node quantize_node(int x, int xq, float x_scale) {
    ir::Node q;
    q.name = g().value(xq).name;
    q.op = fp8() ? "QuantizeFp8" : "QuantizeInt8";
    q.domain = "kiln";
    q.inputs = {x};
    q.outputs = {xq};
    q.attrs.set("inv_scale", 1.0f / x_scale);
    return q;
  }

  // cuDNN takes symmetric padding only: the asymmetric part becomes an explicit zero Pad
  // node (in the activation's memory order) and the convolution keeps the symmetric rest.
  int pad_asymmetric(ir::Node& n, int x) {
    auto pads = n.attrs.get_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4 || (pads[0] == pads[2] && pads[1] == pads[3])) return x;
    for (int64_t p : pads)
      if (p < 0) fail_with(ErrorCode::kInvalidArgument, "negative conv pads");
    const int64_t ph = std::min(pads[0], pads[2]), pw = std::min(pads[1], pads[3]);
    const std::vector<int64_t> extra = {0, 0, pads[0] - ph, pads[1] - pw, 0, 0, pads[2] - ph, pads[3] - pw};
    Dims dims = g().value(x).dims;
    dims[2] += extra[2] + extra[6];
    dims[3] += extra[3] + extra[7];
    const std::string name = n.name + ":asymmetric_pad";
    const int pads_value = g().add_constant(name + "_pads", Tensor::from_vector<int64_t>({8}, extra));
    out_.layouts.push_back(Layout::kNCHW);
    out_.batched.push_back(false);
    const int y = g().add_value(name, g().value(x).dtype, dims);
    out_.layouts.push_back(out_.layouts[x]);
    out_.batched.push_back(out_.batched[x]);
    ir::Node pad;
    pad.name = name;
    pad.op = "Pad";
    pad.inputs = {x, pads_value};
    pad.outputs = {y};
    lower_movement(pad);
    g().add_node(std::move(pad));
    n.attrs.set("pads", std::vector<int64_t>{ph, pw, ph, pw});
    return y;
  }

  // fp16/bf16 tensor-core convolutions want input channels in multiples of 8; for thinner
  // inputs (an RGB first layer) the conv op may time a variant that zero-pads the input
  // channels, which needs this filter with matching zero channels.
  int channel_padded_filter(const ir::Node& n, int weight, Layout l) {
    if (act_ == DType::kF32 || l != Layout::kNHWC || n.attrs.get_int("group", 1) != 1) return ir::kNoValue;
    const Tensor& w = *g().value(weight).constant;
    if (w.rank() != 4 || w.dim(1) % 8 == 0) return ir::kNoValue;
    const int64_t k = w.dim(0), c = w.dim(1), r = w.dim(2), s = w.dim(3), cp = (c + 7) / 8 * 8;
    const std::vector<double> src = w.to_doubles();
    std::vector<float> dst(static_cast<size_t>(k * cp * r * s), 0.0f);
    for (int64_t ik = 0; ik < k; ++ik)
      for (int64_t ic = 0; ic < c; ++ic)
        for (int64_t i = 0; i < r * s; ++i)
          dst[static_cast<size_t>((ik * cp + ic) * r * s + i)] = static_cast<float>(src[static_cast<size_t>((ik * c + ic) * r * s + i)]);
    const Tensor padded = convert_constant(Tensor::from_vector<float>({k, cp, r, s}, dst), act_, l);
    const int v = g().add_constant(n.name + ":channel_padded_filter", padded);
    out_.layouts.push_back(l);
    out_.batched.push_back(false);
    return v;
  }

  std::vector<int64_t> constant_ints(const ir::Node& n, size_t i, const char* what) {
    require_constant(n, i, what);
    return g().value(n.inputs[i]).constant->to_int64s();
  }

  // Slice, Split, Pad keep their input's memory order (the op maps axes); constant inputs
  // become normalized attributes so the device op needs no host reads. Transpose runs in
  // NCHW order. The batch axis may not be cut or padded: its size follows each run.
  void lower_movement(ir::Node& n) {
    auto& in = n.inputs;
    const DType d = g().value(in[0]).dtype;
    const Dims dims = g().value(in[0]).dims;
    const int64_t rank = static_cast<int64_t>(dims.size());
    const bool batched = out_.batched[in[0]];
    Layout l = out_.layouts[in[0]];
    auto batch_axis_untouched = [&](bool untouched) {
      if (batched && !untouched)
        fail_with(ErrorCode::kUnimplemented, "{} along the batch axis is not supported on the GPU", n.op);
    };
    if (n.op == "Transpose") {
      in[0] = want(in[0], d, Layout::kNCHW);
      auto perm = n.attrs.get_ints("perm", {});
      if (perm.empty())
        for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
      if (static_cast<int64_t>(perm.size()) != rank) fail("perm {} for a rank-{} input", perm.size(), rank);
      batch_axis_untouched(perm[0] == 0);
      n.attrs.set("perm", perm);
      l = Layout::kNCHW;
    } else if (n.op == "Slice") {
      const auto starts = constant_ints(n, 1, "starts");
      const auto ends = constant_ints(n, 2, "ends");
      std::vector<int64_t> axes, steps;
      if (n.has_input(3)) axes = constant_ints(n, 3, "axes");
      if (n.has_input(4)) steps = constant_ints(n, 4, "steps");
      if (axes.empty())
        for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
      if (steps.empty()) steps.assign(starts.size(), 1);
      if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
        fail("starts/ends/axes/steps disagree in length");
      std::vector<int64_t> all_starts(static_cast<size_t>(rank), 0), all_steps(static_cast<size_t>(rank), 1);
      for (size_t i = 0; i < axes.size(); ++i) {
        const int64_t a = normalize_axis(axes[i], rank);
        const int64_t dim = dims[static_cast<size_t>(a)], step = steps[i];
        if (step == 0) fail_with(ErrorCode::kInvalidArgument, "Slice step of 0 on axis {}", a);
        // ONNX clamping: [0, dim] for positive steps, [-1, dim - 1] for negative ones.
        int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
        int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
        s = step > 0 ? std::clamp<int64_t>(s, 0, dim) : std::clamp<int64_t>(s, -1, dim - 1);
        e = step > 0 ? std::clamp<int64_t>(e, 0, dim) : std::clamp<int64_t>(e, -1, dim - 1);
        if (a == 0) batch_axis_untouched(s == 0 && step == 1 && e >= dim);
        all_starts[static_cast<size_t>(a)] = s;
        all_steps[static_cast<size_t>(a)] = step;
      }
      n.attrs.set("starts", all_starts);
      n.attrs.set("steps", all_steps);
      in.resize(1);
    } else if (n.op == "Split") {
      const int64_t axis = normalize_axis(n.attrs.get_int("axis", 0), rank);
      batch_axis_untouched(axis != 0);
      std::vector<int64_t> sizes;
      for (int v : n.outputs) sizes.push_back(g().value(v).dims.at(static_cast<size_t>(axis)));
      n.attrs.set("axis", axis);
      n.attrs.set("split", sizes);
      in.resize(1);
    } else {  // Pad
      if (n.attrs.get_string("mode", "constant") != "constant")
        fail_with(ErrorCode::kUnimplemented, "Pad mode '{}' (only constant runs on the GPU)",
                  n.attrs.get_string("mode", "constant"));
      if (n.has_input(3)) fail_with(ErrorCode::kUnimplemented, "Pad with an axes input");
      const auto pads = constant_ints(n, 1, "pads");
      if (static_cast<int64_t>(pads.size()) != 2 * rank) fail("{} pads for a rank-{} input", pads.size(), rank);
      batch_axis_untouched(pads[0] == 0 && pads[static_cast<size_t>(rank)] == 0);
      double value = 0;
      if (n.has_input(2)) {
        require_constant(n, 2, "constant_value");
        const auto v = g().value(in[2]).constant->to_doubles();
        if (!v.empty()) value = v[0];
      }
      n.attrs.set("pads", pads);
      n.attrs.set("value", static_cast<float>(value));
      in.resize(1);
    }
    for (int v : n.outputs)
      if (v != ir::kNoValue) set_out(v, d, l);
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
  bool strict_fp32_;
  DType act_;
  const quant::CalibrationTable* table_ = nullptr;  // int8 / fp8 / best builds only
  int8::Int8Plan int8_;
  DType qtype_ = DType::kI8;      // kI8 or kFP8E4M3 when a table is given
  std::map<int, int> quantized_;  // value -> its INT8 / FP8 copy
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

// The batch the graph's first input states (its dims[0]), or 0 when it is dynamic.
int64_t fixed_batch(const ir::Graph& graph) {
  if (graph.inputs.empty()) return 0;
  const Dims& d = graph.value(graph.inputs[0]).dims;
  return !d.empty() && d[0] > 0 ? d[0] : 0;
}

}  // namespace

DType activation_dtype(Precision precision) {
  switch (precision) {
    case Precision::kNative:
    case Precision::kFP32:
    case Precision::kTF32: return DType::kF32;
    case Precision::kFP16: return DType::kF16;
    case Precision::kBF16: return DType::kBF16;
    case Precision::kINT8:  // layers that cannot run in INT8 / FP8 run in FP16
    case Precision::kFP8:
    case Precision::kBest: return DType::kF16;  // layers not worth INT8 run in FP16
  }
  fail_with(ErrorCode::kUnimplemented, "precision {} is not supported by the CUDA backend",
            precision_name(precision));
}

bool cuda_supports_op(const std::string& op) {
  for (const auto* set :
       {&kConvOps, &kPoolOps, &kUnaryOps, &kBinaryOps, &kReshapeOps, &kGemmOps, &kOtherOps, &kMovementOps,
        &kTailOps})
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

LoweredGraph lower_for_device(const ir::Graph& graph, Precision precision, int max_batch,
                              const quant::CalibrationTable* table, const std::set<std::string>* int8_nodes) {
  if (max_batch < 1) fail("max batch size must be at least 1, got {}", max_batch);
  activation_dtype(precision);  // rejects unsupported precisions before any work
  // A model whose reshapes name literal shapes (a fixed batch, often 1) runs only at its
  // own batch; that is found by re-inferring shapes at the asked batch and the next one.
  const int64_t fixed = fixed_batch(graph);
  ir::Graph at_max;
  try {
    at_max = with_batch(graph, max_batch);
  } catch (const Error& e) {
    if (fixed > 0 && fixed != max_batch)
      fail_with(ErrorCode::kInvalidArgument, "the model only runs at batch {} (its shapes are fixed: {}); build with "
                "max batch {}", fixed, e.what(), fixed);
    throw;
  }
  std::vector<bool> batched(at_max.values.size(), false);
  ir::Graph at_next;
  try {
    at_next = with_batch(graph, max_batch + 1);
  } catch (const Error&) {
    if (fixed != max_batch) throw;
    return Lowering(at_max, batched, precision, table, int8_nodes).run();  // nothing varies with the batch
  }
  for (size_t v = 0; v < at_max.values.size(); ++v) {
    const ir::Value& a = at_max.values[v];
    const ir::Value& b = at_next.values[v];
    batched[v] = !a.is_constant() && !a.dims.empty() && a.dims[0] != b.dims[0];
  }
  return Lowering(at_max, batched, precision, table, int8_nodes).run();
}

}  // namespace kiln::cuda
