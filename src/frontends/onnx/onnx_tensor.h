// ONNX TensorProto <-> kiln Tensor, with every size checked against the declared shape.
#pragma once

#include <string>

#include <onnx/onnx_pb.h>

#include "core/tensor.h"

namespace kiln::onnx {

// ONNX TensorProto.DataType -> DType; kUndefined for types kiln does not handle.
DType dtype_from_onnx(int32_t onnx_type);
int32_t dtype_to_onnx(DType dtype);

// Reads the tensor from raw_data, the typed fields, or external data (a file relative to
// `base_dir`, the model's folder). Throws kiln::Error naming the tensor on any mismatch.
Tensor tensor_from_onnx(const ::onnx::TensorProto& proto, const std::string& base_dir);

}  // namespace kiln::onnx
