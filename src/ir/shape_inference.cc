#include "ir/shape_inference.h"

#include "ir/shape_argmax.h"
#include "ir/shape_functions.h"

namespace kiln::ir {

// Keyed by op type; kiln's fused ops ("FusedConv", "FusedGemm", domain "kiln") share
// the shape rules of the op they extend.
const std::map<std::string, ShapeFn>& shape_functions() {
  static const std::map<std::string, ShapeFn> table = {
      {"ArgMax", infer_arg_reduce},
      {"ArgMin", infer_arg_reduce},
      {"Add", infer_binary},
      {"AveragePool", infer_pool},
      {"BatchNormalization", infer_batchnorm},
      {"Cast", infer_cast},
      {"Clip", infer_clip},
      {"Concat", infer_concat},
      {"Conv", infer_conv},
      {"DequantizeLinear", infer_dequantize},
      {"Div", infer_binary},
      {"Flatten", infer_flatten},
      {"FusedConv", infer_conv},
      {"FusedGemm", infer_gemm},
      {"Gather", infer_gather},
      {"Gemm", infer_gemm},
      {"GlobalAveragePool", infer_global_pool},
      {"GlobalMaxPool", infer_global_pool},
      {"HardSigmoid", infer_unary},
      {"HardSwish", infer_unary},
      {"Identity", infer_identity},
      {"LeakyRelu", infer_unary},
      {"LogSoftmax", infer_softmax},
      {"LRN", infer_unary},
      {"MatMul", infer_matmul},
      {"MaxPool", infer_pool},
      {"Mul", infer_binary},
      {"Pad", infer_pad},
      {"QuantizeLinear", infer_quantize},
      {"ReduceMean", infer_reduce_mean},
      {"Relu", infer_unary},
      {"Reshape", infer_reshape},
      {"Shape", infer_shape},
      {"Sigmoid", infer_unary},
      {"Slice", infer_slice},
      {"Softmax", infer_softmax},
      {"Split", infer_split},
      {"Squeeze", infer_squeeze},
      {"Sub", infer_binary},
      {"Sum", infer_variadic_broadcast},
      {"Tanh", infer_unary},
      {"Transpose", infer_transpose},
      {"Unsqueeze", infer_unsqueeze},
  };
  return table;
}

void set_output(Graph& g, const Node& n, size_t i, DType dtype, Dims dims) {
  if (i >= n.outputs.size()) return;  // optional output not requested
  Value& v = g.value(n.outputs[i]);
  v.dtype = dtype;
  v.dims = std::move(dims);
  v.shape_known = true;
}

void infer_shapes(Graph& graph) {
  const auto& table = shape_functions();
  for (const Node& node : graph.nodes) {
    auto it = table.find(node.op);
    if (it == table.end())
      fail_with(ErrorCode::kUnimplemented, "node \"{}\" ({}): unsupported op", node.name, node.op);
    try {
      it->second(graph, node);
    } catch (const Error& e) {
      throw Error(fmt::format("node \"{}\" ({}): {}", node.name, node.op, e.what()), e.code());
    }
  }
}

std::vector<std::pair<std::string, std::string>> unknown_ops(const Graph& graph) {
  std::vector<std::pair<std::string, std::string>> result;
  const auto& table = shape_functions();
  for (const Node& n : graph.nodes) {
    if (table.count(n.op)) continue;
    bool seen = false;
    for (auto& r : result) seen = seen || r.first == n.op;
    if (!seen) result.emplace_back(n.op, n.name);
  }
  return result;
}

}  // namespace kiln::ir
