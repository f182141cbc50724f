// ONNX TensorProto.DataType codes. The IR follows ONNX semantics, so a dtype travels as an
// ONNX code wherever ONNX puts one (Cast's "to"): this is the one mapping that the
// frontends, shape inference and kernels share.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace kiln::ir {

// kUndefined when kiln has no such element type.
DType dtype_from_onnx_code(int64_t code);
// 0 (ONNX's UNDEFINED) when ONNX has no such element type.
int64_t onnx_code_of(DType dtype);

}  // namespace kiln::ir
