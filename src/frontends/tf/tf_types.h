// TensorFlow dtypes and tensors -> kiln.
#pragma once

#include <string>

#include "core/tensor.h"

namespace tensorflow { class TensorProto; class TensorShapeProto; }

namespace kiln::tf {

// kUndefined for dtypes kiln has no equivalent of (strings, resources, complex).
DType dtype_from_tf(int tf_dtype);
// Dims of a shape proto; unknown dims become kDynamic. Throws on unknown rank.
Dims dims_from_tf(const tensorflow::TensorShapeProto& shape, const std::string& what);
// A TensorProto's values (tensor_content or the typed repeated fields, with TensorFlow's
// "last value repeats" rule for short value lists).
Tensor tensor_from_tf(const tensorflow::TensorProto& proto, const std::string& what);

}  // namespace kiln::tf
