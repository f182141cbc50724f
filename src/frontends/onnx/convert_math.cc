// Gemm and Softmax / LogSoftmax converters.
#include "frontends/onnx/onnx_converter.h"

namespace kiln::onnx {

void convert_gemm(ConvertContext& cx, ir::Node node) {
  node.attrs.erase("broadcast");  // opset < 7 only; broadcasting is always on now
  cx.emit(std::move(node));
}

void convert_softmax(ConvertContext& cx, ir::Node node) {
  if (cx.opset() >= 13) {
    cx.emit(std::move(node));
    return;
  }
  // Before opset 13, Softmax(axis=a) flattened the input to 2-D at `a` and normalized
  // over everything after it. That is opset-13 Softmax over the last axis of
  // Flatten(x, a), reshaped back; when `a` is already the last axis nothing changes.
  const int64_t axis = node.attrs.get_int("axis", 1);
  const ir::Value& x = cx.graph().value(node.inputs.at(0));
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  if (x.shape_known && normalize_axis(axis, rank) == rank - 1) {
    node.attrs.set("axis", int64_t{-1});
    cx.emit(std::move(node));
    return;
  }
  const int input = node.inputs[0];
  const int output = node.outputs.at(0);
  const std::string base = node.name;

  ir::Node flatten{cx.graph().unique_name(base + "_flatten"), "Flatten", "", {input}, {cx.temp_value(base + "_2d")}, {}};
  flatten.attrs.set("axis", axis);
  const int flat = flatten.outputs[0];
  cx.emit(std::move(flatten));

  ir::Node softmax{node.name, node.op, "", {flat}, {cx.temp_value(base + "_2d_out")}, {}};
  softmax.attrs.set("axis", int64_t{-1});
  const int normalized = softmax.outputs[0];
  cx.emit(std::move(softmax));

  ir::Node shape{cx.graph().unique_name(base + "_shape"), "Shape", "", {input}, {cx.temp_value(base + "_shape")}, {}};
  const int shape_value = shape.outputs[0];
  cx.emit(std::move(shape));
  cx.emit(ir::Node{cx.graph().unique_name(base + "_reshape"), "Reshape", "", {normalized, shape_value}, {output}, {}});
}

}  // namespace kiln::onnx
