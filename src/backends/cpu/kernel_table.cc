#include "backends/cpu/kernels.h"

#include "backends/cpu/arg_reduce.h"
#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

const std::map<std::string, Kernel>& kernels() {
  static const std::map<std::string, Kernel> table = {
      {"ArgMax", argmax},
      {"ArgMin", argmin},
      {"Add", add},
      {"AveragePool", average_pool},
      {"BatchNormalization", batch_normalization},
      {"Cast", cast},
      {"Clip", clip},
      {"Concat", concat},
      {"Conv", conv},
      {"DequantizeLinear", dequantize_linear},
      {"Div", div},
      {"Dropout", dropout},
      {"Flatten", flatten},
      {"FusedConv", fused_conv},
      {"FusedGemm", fused_gemm},
      {"Gather", gather},
      {"Gemm", gemm},
      {"GlobalAveragePool", global_average_pool},
      {"GlobalMaxPool", global_max_pool},
      {"HardSigmoid", hard_sigmoid},
      {"HardSwish", hard_swish},
      {"Identity", identity},
      {"LRN", lrn},
      {"LeakyRelu", leaky_relu},
      {"LogSoftmax", log_softmax},
      {"MatMul", matmul},
      {"MaxPool", max_pool},
      {"Mul", mul},
      {"Pad", pad},
      {"QuantizeLinear", quantize_linear},
      {"ReduceMean", reduce_mean},
      {"Relu", relu},
      {"Reshape", reshape},
      {"Shape", shape},
      {"Sigmoid", sigmoid},
      {"Slice", slice},
      {"Softmax", softmax},
      {"Split", split},
      {"Squeeze", squeeze},
      {"Sub", sub},
      {"Sum", sum},
      {"Tanh", tanh_op},
      {"Transpose", transpose},
      {"Unsqueeze", unsqueeze},
  };
  return table;
}

bool has_kernel(const std::string& op) { return kernels().count(op) != 0; }

std::vector<Tensor> run_node(const ir::Node& node, const std::vector<const Tensor*>& inputs) {
  auto it = kernels().find(node.op);
  if (it == kernels().end())
    fail_with(ErrorCode::kUnimplemented, "node \"{}\" ({}): no CPU kernel for this op", node.name, node.op);
  try {
    return it->second(node, inputs);
  } catch (const Error& e) {
    throw Error(fmt::format("node \"{}\" ({}): {}", node.name, node.op, e.what()), e.code());
  }
}

}  // namespace kiln::cpu
