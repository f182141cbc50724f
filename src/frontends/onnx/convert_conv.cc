// Conv, pooling and BatchNormalization converters, and the auto_pad resolution that
// runs once shapes are known.
#include "frontends/onnx/onnx_converter.h"
#include "frontends/onnx/onnx_passes.h"
#include "ir/shape_functions.h"

namespace kiln::onnx {

namespace {

void drop_notset_auto_pad(ir::Node& node) {
  if (node.attrs.has("auto_pad")) {
    const std::string mode = node.attrs.get_string("auto_pad", "NOTSET");
    if (mode == "NOTSET") node.attrs.erase("auto_pad");
    else if (mode != "SAME_UPPER" && mode != "SAME_LOWER" && mode != "VALID")
      fail("unsupported auto_pad \"{}\" (expected NOTSET, SAME_UPPER, SAME_LOWER or VALID)", mode);
  }
}

}  // namespace

void convert_conv(ConvertContext& cx, ir::Node node) {
  drop_notset_auto_pad(node);
  cx.emit(std::move(node));
}

void convert_pool(ConvertContext& cx, ir::Node node) {
  if (node.outputs.size() > 1)
    fail_with(ErrorCode::kUnimplemented, "{}'s Indices output is not supported", node.op);
  drop_notset_auto_pad(node);
  cx.emit(std::move(node));
}

void convert_batchnorm(ConvertContext& cx, ir::Node node) {
  if (node.outputs.size() > 1)
    fail_with(ErrorCode::kUnimplemented, "BatchNormalization's training outputs (mean/var) are not supported");
  if (node.attrs.get_int("spatial", 1) != 1)
    fail_with(ErrorCode::kUnimplemented, "BatchNormalization with spatial=0 is not supported");
  if (node.attrs.get_int("training_mode", 0) != 0)
    fail_with(ErrorCode::kUnimplemented, "BatchNormalization in training mode is not supported");
  for (const char* legacy : {"spatial", "is_test", "consumed_inputs", "training_mode"}) node.attrs.erase(legacy);
  cx.emit(std::move(node));
}

void resolve_auto_pads(ir::Graph& graph) {
  for (ir::Node& node : graph.nodes) {
    if (!node.attrs.has("auto_pad")) continue;
    if (node.op != "Conv" && node.op != "MaxPool" && node.op != "AveragePool" && node.op != "FusedConv") continue;
    try {
      const ir::Value& x = graph.value(node.inputs.at(0));
      const Dims* w = node.op == "Conv" || node.op == "FusedConv" ? &graph.value(node.inputs.at(1)).dims : nullptr;
      const std::vector<int64_t> pads = ir::explicit_pads(node, x.dims, w);
      for (int64_t p : pads)
        if (p < 0)
          fail_with(ErrorCode::kUnimplemented, "auto_pad {} needs static spatial dimensions, input is {}",
                    node.attrs.get_string("auto_pad", ""), dims_to_string(x.dims));
      node.attrs.set("pads", pads);
      node.attrs.erase("auto_pad");
    } catch (const Error& e) {
      throw Error(fmt::format("node \"{}\" ({}): {}", node.name, node.op, e.what()), e.code());
    }
  }
}

}  // namespace kiln::onnx
