// Converters for ops that need little or no rewriting: activations, arithmetic,
// Constant, Clip (min/max became inputs in opset 11) and Dropout (inference: Identity).
#include <algorithm>
#include <cfloat>

#include "frontends/onnx/onnx_converter.h"

namespace kiln::onnx {

void convert_passthrough(ConvertContext& cx, ir::Node node) { cx.emit(std::move(node)); }

int add_scalar_like(ConvertContext& cx, const std::string& base, double value, DType dtype) {
  if (dtype == DType::kUndefined) dtype = DType::kF32;
  Tensor t = Tensor::scalar<double>(value).cast(dtype);
  const int v = cx.graph().add_constant(cx.graph().unique_name(base), std::move(t));
  cx.bind(cx.graph().value(v).name, v);
  return v;
}

void convert_constant(ConvertContext& cx, ir::Node node) {
  KILN_CHECK(node.outputs.size() == 1, "Constant must have one output");
  const auto& a = node.attrs;
  Tensor t;
  if (a.has("value")) t = a.get_tensor("value");
  else if (a.has("value_float")) t = Tensor::scalar<float>(a.get_float("value_float", 0));
  else if (a.has("value_floats")) {
    auto f = a.get_floats("value_floats");
    t = Tensor::from_vector<float>({static_cast<int64_t>(f.size())}, f);
  } else if (a.has("value_int")) t = Tensor::scalar<int64_t>(a.get_int("value_int", 0));
  else if (a.has("value_ints")) {
    auto v = a.get_ints("value_ints");
    t = Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
  } else if (a.has("sparse_value") || a.has("value_string") || a.has("value_strings")) {
    fail_with(ErrorCode::kUnimplemented, "sparse and string constants are not supported");
  } else {
    fail("Constant has no value attribute");
  }
  ir::Value& out = cx.graph().value(node.outputs[0]);
  out.dtype = t.dtype();
  out.dims = t.dims();
  out.shape_known = true;
  out.constant = std::move(t);
}

void convert_clip(ConvertContext& cx, ir::Node node) {
  if (cx.opset() < 11) {
    // Opset 6: min/max attributes defaulting to the float range.
    const DType dtype = cx.graph().value(node.inputs.at(0)).dtype;
    const float lo = node.attrs.get_float("min", -FLT_MAX);
    const float hi = node.attrs.get_float("max", FLT_MAX);
    node.inputs.resize(1);
    node.inputs.push_back(add_scalar_like(cx, node.name + "_min", lo, dtype));
    node.inputs.push_back(add_scalar_like(cx, node.name + "_max", hi, dtype));
    node.attrs.erase("min");
    node.attrs.erase("max");
  }
  cx.emit(std::move(node));
}

void convert_dropout(ConvertContext& cx, ir::Node node) {
  // Inference only: Dropout passes its input through.
  if (node.has_input(2)) {
    const Tensor* training = cx.constant(node.inputs[2]);
    if (training == nullptr || training->to_int64s().at(0) != 0)
      fail_with(ErrorCode::kUnimplemented, "Dropout in training mode is not supported (inference only)");
  }
  if (node.outputs.size() > 1) {
    // In inference the mask keeps everything: a constant of ones when the shape is static.
    const ir::Value& x = cx.graph().value(node.inputs.at(0));
    if (!x.shape_known || !is_static(x.dims) || num_elements(x.dims) > (int64_t{1} << 24))
      fail_with(ErrorCode::kUnimplemented, "Dropout's mask output needs a static input shape of at most 2^24 elements");
    Tensor mask(DType::kBool, x.dims);
    std::fill_n(static_cast<uint8_t*>(mask.raw()), mask.numel(), uint8_t{1});
    ir::Value& m = cx.graph().value(node.outputs[1]);
    m.dtype = DType::kBool;
    m.dims = x.dims;
    m.shape_known = true;
    m.constant = std::move(mask);
    node.outputs.resize(1);
  }
  node.op = "Identity";
  node.inputs.resize(1);
  node.attrs = {};
  cx.emit(std::move(node));
}

}  // namespace kiln::onnx
