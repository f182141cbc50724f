// Per-op converters, grouped by family; listed in tf_op_table.cc.
#pragma once

#include "frontends/tf/tf_converter.h"

namespace kiln::tf {

// convert_nn.cc
void convert_conv2d(TfConverter& c);
void convert_depthwise_conv2d(TfConverter& c);
void convert_bias_add(TfConverter& c);
void convert_fused_batch_norm(TfConverter& c);
void convert_pool(TfConverter& c);
void convert_relu(TfConverter& c);
void convert_relu6(TfConverter& c);
void convert_softmax(TfConverter& c);
void convert_matmul(TfConverter& c);

// convert_math.cc
void convert_binary(TfConverter& c);
void convert_mean(TfConverter& c);
void convert_cast(TfConverter& c);
void convert_argmax(TfConverter& c);

// convert_shape.cc
void convert_pad(TfConverter& c);
void convert_squeeze(TfConverter& c);
void convert_reshape(TfConverter& c);
void convert_concat(TfConverter& c);
void convert_transpose(TfConverter& c);
void convert_shape(TfConverter& c);
void convert_strided_slice(TfConverter& c);
void convert_pack(TfConverter& c);

// Helpers shared by the families.
// NHWC axis -> NCHW axis for a 4-D tensor.
int64_t nhwc_to_nchw_axis(int64_t axis);
// ONNX TensorProto data type code of a kiln dtype (for Cast's "to").
int64_t onnx_type_code(DType t);
// A 1-D int64 constant.
int int64_constant(TfConverter& c, const std::string& name, const std::vector<int64_t>& values);

}  // namespace kiln::tf
