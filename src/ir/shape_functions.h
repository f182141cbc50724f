// Declarations of the per-op shape functions listed in shape_inference.cc, and helpers
// they share. Definitions live in shape_<family>.cc files.
#pragma once

#include <vector>

#include "ir/shape_inference.h"

namespace kiln::ir {

// Input i, which must be present and have an inferred shape.
const Value& known_input(const Graph& g, const Node& n, size_t i);
// The constant behind input i, or nullptr when it is absent or computed at run time.
const Tensor* constant_input(const Graph& g, const Node& n, size_t i);
// ONNX TensorProto.DataType numbers (Cast's `to`) -> DType; throws on types kiln lacks.
DType dtype_from_onnx_enum(int64_t onnx_type);

// The explicit [begin..., end...] pads of a Conv / pooling node, resolving auto_pad
// against the input dims `x` (and the weight dims `w` for Conv when kernel_shape is
// absent). SAME pads on a dynamic spatial dimension come back as -1.
std::vector<int64_t> explicit_pads(const Node& n, const Dims& x, const Dims* w);

// shape_elementwise.cc
void infer_identity(Graph& g, const Node& n);
void infer_unary(Graph& g, const Node& n);
void infer_binary(Graph& g, const Node& n);
void infer_variadic_broadcast(Graph& g, const Node& n);
void infer_softmax(Graph& g, const Node& n);
void infer_cast(Graph& g, const Node& n);
void infer_clip(Graph& g, const Node& n);

// shape_conv.cc
void infer_conv(Graph& g, const Node& n);
void infer_pool(Graph& g, const Node& n);
void infer_global_pool(Graph& g, const Node& n);
void infer_batchnorm(Graph& g, const Node& n);

// shape_math.cc
void infer_gemm(Graph& g, const Node& n);
void infer_matmul(Graph& g, const Node& n);
void infer_reduce_mean(Graph& g, const Node& n);
void infer_quantize(Graph& g, const Node& n);
void infer_dequantize(Graph& g, const Node& n);

// shape_tensor_ops.cc
void infer_flatten(Graph& g, const Node& n);
void infer_reshape(Graph& g, const Node& n);
void infer_transpose(Graph& g, const Node& n);
void infer_concat(Graph& g, const Node& n);
void infer_split(Graph& g, const Node& n);
void infer_slice(Graph& g, const Node& n);
void infer_pad(Graph& g, const Node& n);
void infer_squeeze(Graph& g, const Node& n);
void infer_unsqueeze(Graph& g, const Node& n);
void infer_shape(Graph& g, const Node& n);
void infer_gather(Graph& g, const Node& n);

}  // namespace kiln::ir
