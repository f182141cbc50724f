#include "frontends/tf/tf_ops.h"

namespace kiln::tf {

const std::map<std::string, OpConverter>& op_converters() {
  static const std::map<std::string, OpConverter> table = {
      {"Conv2D", convert_conv2d},
      {"DepthwiseConv2dNative", convert_depthwise_conv2d},
      {"BiasAdd", convert_bias_add},
      {"FusedBatchNorm", convert_fused_batch_norm},
      {"FusedBatchNormV2", convert_fused_batch_norm},
      {"FusedBatchNormV3", convert_fused_batch_norm},
      {"MaxPool", convert_pool},
      {"AvgPool", convert_pool},
      {"Relu", convert_relu},
      {"Relu6", convert_relu6},
      {"Softmax", convert_softmax},
      {"MatMul", convert_matmul},
      {"Add", convert_binary},
      {"AddV2", convert_binary},
      {"Sub", convert_binary},
      {"Mul", convert_binary},
      {"RealDiv", convert_binary},
      {"Mean", convert_mean},
      {"Cast", convert_cast},
      {"ArgMax", convert_argmax},
      {"Pad", convert_pad},
      {"PadV2", convert_pad},
      {"Squeeze", convert_squeeze},
      {"Reshape", convert_reshape},
      {"ConcatV2", convert_concat},
      {"Transpose", convert_transpose},
      {"Shape", convert_shape},
      {"StridedSlice", convert_strided_slice},
      {"Pack", convert_pack},
  };
  return table;
}

}  // namespace kiln::tf
