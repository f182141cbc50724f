#include "frontends/tf/tf_ops.h"

namespace kiln::tf {

namespace {

bool is_nhwc(TfConverter& c) {
  const std::string f = c.attr_string("data_format", "NHWC");
  if (f != "NHWC" && f != "NCHW") c.fail_node("unsupported data_format '" + f + "'");
  return f == "NHWC";
}

// Spatial entries (H, W) of a 4-entry TF list in the node's data format.
std::vector<int64_t> spatial(TfConverter& c, const std::string& attr, bool nhwc, int64_t fallback) {
  if (!c.has_attr(attr)) return {fallback, fallback};
  const auto v = c.attr_ints(attr);
  if (v.size() != 4) c.fail_node(fmt::format("'{}' must have 4 entries", attr));
  return nhwc ? std::vector<int64_t>{v[1], v[2]} : std::vector<int64_t>{v[2], v[3]};
}

// Padding attributes of a conv / pool node into ONNX attrs.
void set_padding(TfConverter& c, ir::Attributes& a, bool nhwc) {
  const std::string padding = c.attr_string("padding");
  if (padding == "SAME") {
    a.set("auto_pad", std::string("SAME_UPPER"));  // TF puts the odd extra pixel after
  } else if (padding == "VALID") {
    a.set("pads", std::vector<int64_t>{0, 0, 0, 0});
  } else if (padding == "EXPLICIT") {
    const auto p = c.attr_ints("explicit_paddings");
    if (p.size() != 8) c.fail_node("explicit_paddings must have 8 entries");
    const size_t h = nhwc ? 1 : 2, w = nhwc ? 2 : 3;
    a.set("pads", std::vector<int64_t>{p[2 * h], p[2 * w], p[2 * h + 1], p[2 * w + 1]});
  } else {
    c.fail_node("unsupported padding '" + padding + "'");
  }
}

// Conv output stays NCHW; flagged as NHWC-transposed when the TF node was NHWC.
void emit_conv(TfConverter& c, int x_nchw, Tensor weights_oihw, int64_t group, bool nhwc) {
  ir::Attributes a;
  a.set("strides", spatial(c, "strides", nhwc, 1));
  a.set("dilations", spatial(c, "dilations", nhwc, 1));
  a.set("kernel_shape", std::vector<int64_t>{weights_oihw.dims()[2], weights_oihw.dims()[3]});
  a.set("group", group);
  set_padding(c, a, nhwc);
  const int w = c.constant(c.node().name() + "/weights", std::move(weights_oihw));
  c.set_output(0, {c.add("Conv", {x_nchw, w}, a)[0], nhwc});
}

}  // namespace

void convert_conv2d(TfConverter& c) {
  const bool nhwc = is_nhwc(c);
  const TfValue x = c.input(0);
  const Tensor f = c.constant_input(1).cast(DType::kF32);  // HWIO
  if (f.rank() != 4) c.fail_node("filter must be 4-D (HWIO)");
  const int64_t H = f.dims()[0], W = f.dims()[1], I = f.dims()[2], O = f.dims()[3];
  Tensor w(DType::kF32, {O, I, H, W});
  const float* src = f.data<float>();
  float* dst = w.data<float>();
  for (int64_t h = 0; h < H; ++h)
    for (int64_t ww = 0; ww < W; ++ww)
      for (int64_t i = 0; i < I; ++i)
        for (int64_t o = 0; o < O; ++o) dst[((o * I + i) * H + h) * W + ww] = src[((h * W + ww) * I + i) * O + o];
  emit_conv(c, nhwc ? c.as_nchw(x) : c.as_tf(x), std::move(w), 1, nhwc);
}

void convert_depthwise_conv2d(TfConverter& c) {
  const bool nhwc = is_nhwc(c);
  const TfValue x = c.input(0);
  const Tensor f = c.constant_input(1).cast(DType::kF32);  // H, W, in, multiplier
  if (f.rank() != 4) c.fail_node("filter must be 4-D (H, W, in, multiplier)");
  const int64_t H = f.dims()[0], W = f.dims()[1], I = f.dims()[2], M = f.dims()[3];
  Tensor w(DType::kF32, {I * M, 1, H, W});
  const float* src = f.data<float>();
  float* dst = w.data<float>();
  for (int64_t h = 0; h < H; ++h)
    for (int64_t ww = 0; ww < W; ++ww)
      for (int64_t i = 0; i < I; ++i)
        for (int64_t m = 0; m < M; ++m) dst[((i * M + m) * H + h) * W + ww] = src[((h * W + ww) * I + i) * M + m];
  emit_conv(c, nhwc ? c.as_nchw(x) : c.as_tf(x), std::move(w), I, nhwc);
}

void convert_bias_add(TfConverter& c) {
  const TfValue x = c.input(0);
  Tensor bias = c.constant_input(1);
  if (bias.rank() != 1) c.fail_node("bias must be 1-D");
  const bool nchw_format = c.attr_string("data_format", "NHWC") == "NCHW";
  if (x.nchw || nchw_format) {
    // Channels are axis 1 of the IR value: broadcast the bias as [C,1,1].
    const int b = c.constant(c.node().name() + "/bias", bias.reshaped({bias.dims()[0], 1, 1}));
    c.set_output(0, {c.add("Add", {x.value, b})[0], x.nchw});
  } else {
    const int b = c.constant(c.node().name() + "/bias", bias);
    c.set_output(0, {c.add("Add", {x.value, b})[0], false});
  }
}

void convert_fused_batch_norm(TfConverter& c) {
  if (c.attr_bool("is_training", false)) c.fail_node("training-mode batch norm cannot run for inference");
  const bool nhwc = is_nhwc(c);
  const TfValue x = c.input(0);
  std::vector<int> ins = {nhwc ? c.as_nchw(x) : c.as_tf(x)};
  for (int i = 1; i <= 4; ++i) ins.push_back(c.constant(c.node().name() + "/bn" + std::to_string(i), c.constant_input(i)));
  ir::Attributes a;
  a.set("epsilon", c.attr_float("epsilon", 1e-4f));
  c.set_output(0, {c.add("BatchNormalization", ins, a)[0], nhwc});
}

void convert_pool(TfConverter& c) {
  const bool nhwc = is_nhwc(c);
  const TfValue x = c.input(0);
  ir::Attributes a;
  a.set("kernel_shape", spatial(c, "ksize", nhwc, 1));
  a.set("strides", spatial(c, "strides", nhwc, 1));
  set_padding(c, a, nhwc);
  const std::string op = c.node().op() == "MaxPool" ? "MaxPool" : "AveragePool";
  if (op == "AveragePool") a.set("count_include_pad", int64_t{0});  // TF averages real pixels only
  c.set_output(0, {c.add(op, {nhwc ? c.as_nchw(x) : c.as_tf(x)}, a)[0], nhwc});
}

void convert_relu(TfConverter& c) {
  const TfValue x = c.input(0);
  c.set_output(0, {c.add("Relu", {x.value})[0], x.nchw});
}

void convert_relu6(TfConverter& c) {
  const TfValue x = c.input(0);
  const int lo = c.constant(c.node().name() + "/min", Tensor::scalar<float>(0.0f));
  const int hi = c.constant(c.node().name() + "/max", Tensor::scalar<float>(6.0f));
  c.set_output(0, {c.add("Clip", {x.value, lo, hi})[0], x.nchw});
}

void convert_softmax(TfConverter& c) {
  ir::Attributes a;
  a.set("axis", int64_t{-1});
  c.set_output(0, {c.add("Softmax", {c.as_tf(c.input(0))}, a)[0], false});
}

void convert_matmul(TfConverter& c) {
  const int a_in = c.as_tf(c.input(0)), b_in = c.as_tf(c.input(1));
  const bool ta = c.attr_bool("transpose_a", false), tb = c.attr_bool("transpose_b", false);
  if (!ta && !tb) {
    c.set_output(0, {c.add("MatMul", {a_in, b_in})[0], false});
    return;
  }
  ir::Attributes a;
  a.set("transA", int64_t{ta});
  a.set("transB", int64_t{tb});
  c.set_output(0, {c.add("Gemm", {a_in, b_in}, a)[0], false});
}

}  // namespace kiln::tf
