// Converters for ops whose attributes became inputs in later opsets: Squeeze / Unsqueeze
// (axes, opset 13), Split (split, opset 13), Slice (starts/ends/axes, opset 10) and Pad
// (pads/value, opset 11). The IR always has the input form.
#include "frontends/onnx/onnx_converter.h"

namespace kiln::onnx {

void convert_squeeze(ConvertContext& cx, ir::Node node) {
  if (cx.opset() < 13) {
    node.inputs.resize(1);
    if (node.attrs.has("axes")) node.inputs.push_back(cx.add_i64_constant(node.name + "_axes", node.attrs.get_ints("axes")));
    else KILN_CHECK(node.op == "Squeeze", "Unsqueeze needs the axes attribute");
    node.attrs.erase("axes");
  }
  cx.emit(std::move(node));
}

void convert_split(ConvertContext& cx, ir::Node node) {
  if (cx.opset() < 13) {
    node.inputs.resize(1);
    if (node.attrs.has("split")) node.inputs.push_back(cx.add_i64_constant(node.name + "_split", node.attrs.get_ints("split")));
    node.attrs.erase("split");
  }
  KILN_CHECK(!node.outputs.empty(), "Split has no outputs");
  cx.emit(std::move(node));
}

void convert_slice(ConvertContext& cx, ir::Node node) {
  if (cx.opset() < 10) {
    const auto starts = node.attrs.require_ints("starts");
    const auto ends = node.attrs.require_ints("ends");
    node.inputs.resize(1);
    node.inputs.push_back(cx.add_i64_constant(node.name + "_starts", starts));
    node.inputs.push_back(cx.add_i64_constant(node.name + "_ends", ends));
    if (node.attrs.has("axes")) node.inputs.push_back(cx.add_i64_constant(node.name + "_axes", node.attrs.get_ints("axes")));
    for (const char* a : {"starts", "ends", "axes"}) node.attrs.erase(a);
  }
  cx.emit(std::move(node));
}

void convert_pad(ConvertContext& cx, ir::Node node) {
  if (cx.opset() < 11) {
    const auto pads = node.attrs.require_ints("pads");
    const float value = node.attrs.get_float("value", 0.0f);
    const DType dtype = cx.graph().value(node.inputs.at(0)).dtype;
    node.inputs.resize(1);
    node.inputs.push_back(cx.add_i64_constant(node.name + "_pads", pads));
    node.inputs.push_back(add_scalar_like(cx, node.name + "_value", value, dtype));
    node.attrs.erase("pads");
    node.attrs.erase("value");
  }
  const std::string mode = node.attrs.get_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    fail("unsupported Pad mode \"{}\" (expected constant, reflect or edge)", mode);
  cx.emit(std::move(node));
}

}  // namespace kiln::onnx
