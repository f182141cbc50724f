#include "frontends/tf/tf_ops.h"

#include <algorithm>

#include "frontends/tf/tf_types.h"
#include "ir/onnx_dtype.h"

namespace kiln::tf {

int64_t nhwc_to_nchw_axis(int64_t axis) {
  static const int64_t map[4] = {0, 2, 3, 1};
  if (axis < 0) axis += 4;
  return map[axis];
}

int64_t onnx_type_code(DType t) {
  const int64_t code = ir::onnx_code_of(t);
  if (code == 0) fail("no ONNX type code for dtype {}", dtype_name(t));
  return code;
}

int int64_constant(TfConverter& c, const std::string& name, const std::vector<int64_t>& values) {
  return c.constant(name, Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values));
}

namespace {

// Rewrites a constant operand for an NCHW-flagged partner: per-channel vectors become
// [C,1,1], 4-D constants are transposed, scalars stay.
std::optional<int> constant_for_nchw(TfConverter& c, const ir::Value& v) {
  const Tensor& t = *v.constant;
  if (t.rank() == 0 || t.numel() == 1) return c.constant(c.node().name() + "/operand", t);
  if (t.rank() == 1) return c.constant(c.node().name() + "/operand", t.reshaped({t.dims()[0], 1, 1}));
  if (t.rank() == 4) {
    const Tensor f = t.cast(DType::kF32);
    const int64_t N = t.dims()[0], H = t.dims()[1], W = t.dims()[2], C = t.dims()[3];
    Tensor out(DType::kF32, {N, C, H, W});
    for (int64_t n = 0; n < N; ++n)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w)
          for (int64_t ch = 0; ch < C; ++ch)
            out.data<float>()[((n * C + ch) * H + h) * W + w] = f.data<float>()[((n * H + h) * W + w) * C + ch];
    return c.constant(c.node().name() + "/operand", out.cast(t.dtype()));
  }
  return std::nullopt;
}

}  // namespace

void convert_binary(TfConverter& c) {
  static const std::map<std::string, std::string> kOps = {
      {"Add", "Add"}, {"AddV2", "Add"}, {"Sub", "Sub"}, {"Mul", "Mul"}, {"RealDiv", "Div"}};
  const std::string op = kOps.at(c.node().op());
  const TfValue a = c.input(0), b = c.input(1);
  const ir::Value& va = c.graph().value(a.value);
  const ir::Value& vb = c.graph().value(b.value);
  if (a.nchw && b.nchw) {
    c.set_output(0, {c.add(op, {a.value, b.value})[0], true});
    return;
  }
  // One side NCHW-flagged, the other a constant that can follow it.
  if (a.nchw && vb.is_constant()) {
    if (auto k = constant_for_nchw(c, vb)) {
      c.set_output(0, {c.add(op, {a.value, *k})[0], true});
      return;
    }
  }
  if (b.nchw && va.is_constant()) {
    if (auto k = constant_for_nchw(c, va)) {
      c.set_output(0, {c.add(op, {*k, b.value})[0], true});
      return;
    }
  }
  c.set_output(0, {c.add(op, {c.as_tf(a), c.as_tf(b)})[0], false});
}

void convert_mean(TfConverter& c) {
  const TfValue x = c.input(0);
  std::vector<int64_t> axes = c.constant_input(1).to_int64s();
  const bool keep = c.attr_bool("keep_dims", false);
  ir::Attributes a;
  a.set("keepdims", int64_t{keep});
  std::vector<int64_t> sorted = axes;
  for (auto& ax : sorted) if (ax < 0) ax += 4;
  std::sort(sorted.begin(), sorted.end());
  // Global pooling over H and W reads the same in both layouts.
  if (x.nchw && sorted == std::vector<int64_t>{1, 2}) {
    a.set("axes", std::vector<int64_t>{2, 3});
    const int y = c.add("ReduceMean", {x.value}, a)[0];
    c.set_output(0, {y, keep});
    return;
  }
  a.set("axes", axes);
  c.set_output(0, {c.add("ReduceMean", {c.as_tf(x)}, a)[0], false});
}

void convert_cast(TfConverter& c) {
  const TfValue x = c.input(0);
  const DType to = dtype_from_tf(c.attr_type("DstT"));
  if (to == DType::kUndefined) c.fail_node("unsupported cast target type");
  ir::Attributes a;
  a.set("to", onnx_type_code(to));
  c.set_output(0, {c.add("Cast", {x.value}, a)[0], x.nchw});
}

void convert_argmax(TfConverter& c) {
  const int x = c.as_tf(c.input(0));
  const auto axis = c.constant_input(1).to_int64s();
  if (axis.size() != 1) c.fail_node("dimension must be a scalar");
  ir::Attributes a;
  a.set("axis", axis[0]);
  a.set("keepdims", int64_t{0});
  int y = c.add("ArgMax", {x}, a)[0];
  if (c.has_attr("output_type") && c.attr_type("output_type") == 3 /* DT_INT32 */) {
    ir::Attributes cast;
    cast.set("to", onnx_type_code(DType::kI32));
    y = c.add("Cast", {y}, cast, 1, "/to_int32")[0];
  }
  c.set_output(0, {y, false});
}

}  // namespace kiln::tf
