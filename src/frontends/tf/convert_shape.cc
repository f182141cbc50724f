#include "frontends/tf/tf_ops.h"

#include <algorithm>
#include <limits>

#include "frontends/tf/tf_types.h"

namespace kiln::tf {

namespace {

// Shape-like operands must be int64 in ONNX; TF often computes them in int32.
int as_int64(TfConverter& c, int v) {
  const ir::Value& value = c.graph().value(v);
  if (value.is_constant()) {
    if (value.constant->dtype() == DType::kI64) return v;
    return c.constant(value.name + "/i64", value.constant->cast(DType::kI64));
  }
  ir::Attributes a;
  a.set("to", onnx_type_code(DType::kI64));
  return c.add("Cast", {v}, a, 1, "/i64")[0];
}

}  // namespace

void convert_pad(TfConverter& c) {
  const TfValue x = c.input(0);
  const Tensor paddings = c.constant_input(1);
  if (paddings.rank() != 2 || paddings.dims()[1] != 2) c.fail_node("paddings must be [rank, 2]");
  const auto p = paddings.to_int64s();
  const int64_t rank = paddings.dims()[0];
  std::vector<int64_t> pads(static_cast<size_t>(2 * rank));
  const bool remap = x.nchw && rank == 4;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t target = remap ? nhwc_to_nchw_axis(d) : d;
    pads[target] = p[2 * d];
    pads[target + rank] = p[2 * d + 1];
  }
  std::vector<int> ins = {remap ? x.value : c.as_tf(x), int64_constant(c, c.node().name() + "/pads", pads)};
  if (c.node().op() == "PadV2") ins.push_back(c.constant(c.node().name() + "/value", c.constant_input(2)));
  ir::Attributes a;
  a.set("mode", std::string("constant"));
  c.set_output(0, {c.add("Pad", ins, a)[0], remap});
}

void convert_squeeze(TfConverter& c) {
  const TfValue x = c.input(0);
  std::vector<int64_t> axes = c.has_attr("squeeze_dims") ? c.attr_ints("squeeze_dims") : std::vector<int64_t>{};
  for (auto& a : axes) if (a < 0) a += 4;
  std::vector<int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  // [N,1,1,C] squeezed on H and W is [N,C] in either layout.
  if (x.nchw && sorted == std::vector<int64_t>{1, 2}) {
    c.set_output(0, {c.add("Squeeze", {x.value, int64_constant(c, c.node().name() + "/axes", {2, 3})})[0], false});
    return;
  }
  std::vector<int> ins = {c.as_tf(x)};
  if (!axes.empty()) ins.push_back(int64_constant(c, c.node().name() + "/axes", c.attr_ints("squeeze_dims")));
  c.set_output(0, {c.add("Squeeze", ins)[0], false});
}

void convert_reshape(TfConverter& c) {
  const int x = c.as_tf(c.input(0));
  const int shape = as_int64(c, c.input(1).value);
  c.set_output(0, {c.add("Reshape", {x, shape})[0], false});
}

void convert_concat(TfConverter& c) {
  const int n = c.num_inputs() - 1;
  int64_t axis = c.constant_input(n).to_int64s().at(0);
  std::vector<TfValue> ins;
  bool all_nchw = true;
  for (int i = 0; i < n; ++i) {
    ins.push_back(c.input(i));
    all_nchw = all_nchw && ins.back().nchw;
  }
  ir::Attributes a;
  std::vector<int> values;
  if (all_nchw) {
    a.set("axis", nhwc_to_nchw_axis(axis));
    for (auto& v : ins) values.push_back(v.value);
  } else {
    a.set("axis", axis);
    for (auto& v : ins) values.push_back(c.as_tf(v));
  }
  c.set_output(0, {c.add("Concat", values, a)[0], all_nchw});
}

void convert_transpose(TfConverter& c) {
  const int x = c.as_tf(c.input(0));
  ir::Attributes a;
  a.set("perm", c.constant_input(1).to_int64s());
  c.set_output(0, {c.add("Transpose", {x}, a)[0], false});
}

void convert_shape(TfConverter& c) {
  int y = c.add("Shape", {c.as_tf(c.input(0))})[0];
  if (!c.has_attr("out_type") || c.attr_type("out_type") == 3 /* DT_INT32 */) {
    ir::Attributes a;
    a.set("to", onnx_type_code(DType::kI32));
    y = c.add("Cast", {y}, a, 1, "/to_int32")[0];
  }
  c.set_output(0, {y, false});
}

void convert_strided_slice(TfConverter& c) {
  const int x = c.as_tf(c.input(0));
  const auto begin = c.constant_input(1).to_int64s();
  const auto end = c.constant_input(2).to_int64s();
  const auto strides = c.constant_input(3).to_int64s();
  if (begin.size() != end.size() || begin.size() != strides.size()) c.fail_node("begin, end and strides differ in length");
  if (c.attr_int("ellipsis_mask", 0) != 0 || c.attr_int("new_axis_mask", 0) != 0)
    c.fail_node("ellipsis_mask and new_axis_mask are not supported");
  const int64_t begin_mask = c.attr_int("begin_mask", 0), end_mask = c.attr_int("end_mask", 0);
  const int64_t shrink = c.attr_int("shrink_axis_mask", 0);
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  std::vector<int64_t> starts, ends, axes, steps, squeeze;
  for (size_t i = 0; i < begin.size(); ++i) {
    const int64_t step = strides[i];
    if (step == 0) c.fail_node("stride 0");
    int64_t s = begin[i], e = end[i];
    if (begin_mask >> i & 1) s = step > 0 ? 0 : kMax;
    if (end_mask >> i & 1) e = step > 0 ? kMax : kMin;
    if (shrink >> i & 1) {
      e = s == -1 ? kMax : s + 1;
      squeeze.push_back(static_cast<int64_t>(i));
    }
    starts.push_back(s);
    ends.push_back(e);
    axes.push_back(static_cast<int64_t>(i));
    steps.push_back(step);
  }
  const std::string name = c.node().name();
  int y = c.add("Slice", {x, int64_constant(c, name + "/starts", starts), int64_constant(c, name + "/ends", ends),
                          int64_constant(c, name + "/axes", axes), int64_constant(c, name + "/steps", steps)})[0];
  if (!squeeze.empty()) y = c.add("Squeeze", {y, int64_constant(c, name + "/squeeze", squeeze)}, {}, 1, "/shrink")[0];
  c.set_output(0, {y, false});
}

void convert_pack(TfConverter& c) {
  const int64_t axis = c.attr_int("axis", 0);
  std::vector<int> parts;
  for (int i = 0; i < c.num_inputs(); ++i) {
    const int axes = int64_constant(c, c.node().name() + "/axis", {axis});
    parts.push_back(c.add("Unsqueeze", {c.as_tf(c.input(i)), axes}, {}, 1, "/unsqueeze")[0]);
  }
  ir::Attributes a;
  a.set("axis", axis);
  c.set_output(0, {c.add("Concat", parts, a)[0], false});
}

}  // namespace kiln::tf
