#include "frontends/tf/tf_types.h"

#include <cstring>

#include "tensorflow/tensor.pb.h"

namespace kiln::tf {

DType dtype_from_tf(int t) {
  if (t > 100) t -= 100;  // reference types of TF1 variables
  switch (t) {
    case tensorflow::DT_FLOAT: return DType::kF32;
    case tensorflow::DT_DOUBLE: return DType::kF64;
    case tensorflow::DT_INT32: return DType::kI32;
    case tensorflow::DT_UINT8: return DType::kU8;
    case tensorflow::DT_INT8: return DType::kI8;
    case tensorflow::DT_INT64: return DType::kI64;
    case tensorflow::DT_BOOL: return DType::kBool;
    case tensorflow::DT_HALF: return DType::kF16;
    case tensorflow::DT_BFLOAT16: return DType::kBF16;
    default: return DType::kUndefined;
  }
}

Dims dims_from_tf(const tensorflow::TensorShapeProto& shape, const std::string& what) {
  if (shape.unknown_rank()) fail("{}: shape of unknown rank", what);
  Dims dims;
  for (const auto& d : shape.dim()) dims.push_back(d.size() < 0 ? kDynamic : d.size());
  return dims;
}

namespace {

// Fills `n` elements from a repeated field; a shorter list repeats its last value.
template <typename Out, typename Field>
void fill_from(Out* dst, int64_t n, const Field& field, const std::string& what) {
  if (field.size() == 0) return;  // all zeros
  if (field.size() > n) fail("{}: {} values for {} elements", what, field.size(), n);
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<Out>(field.Get(static_cast<int>(std::min<int64_t>(i, field.size() - 1))));
}

}  // namespace

Tensor tensor_from_tf(const tensorflow::TensorProto& proto, const std::string& what) {
  const DType dtype = dtype_from_tf(proto.dtype());
  if (dtype == DType::kUndefined) fail("{}: unsupported tensor dtype {}", what, static_cast<int>(proto.dtype()));
  Dims dims = dims_from_tf(proto.tensor_shape(), what);
  if (!is_static(dims)) fail("{}: constant with a dynamic dimension", what);
  Tensor t(dtype, dims);
  const int64_t n = t.numel();
  if (!proto.tensor_content().empty()) {
    if (proto.tensor_content().size() != t.nbytes())
      fail("{}: tensor_content holds {} bytes, {} needs {}", what, proto.tensor_content().size(), t.describe(),
           t.nbytes());
    std::memcpy(t.raw(), proto.tensor_content().data(), t.nbytes());
    return t;
  }
  switch (dtype) {
    case DType::kF32: fill_from(t.data<float>(), n, proto.float_val(), what); break;
    case DType::kF64: fill_from(t.data<double>(), n, proto.double_val(), what); break;
    case DType::kI32: fill_from(t.data<int32_t>(), n, proto.int_val(), what); break;
    case DType::kU8: fill_from(t.data<uint8_t>(), n, proto.int_val(), what); break;
    case DType::kI8: fill_from(t.data<int8_t>(), n, proto.int_val(), what); break;
    case DType::kI64: fill_from(t.data<int64_t>(), n, proto.int64_val(), what); break;
    case DType::kBool: fill_from(t.data<uint8_t>(), n, proto.bool_val(), what); break;
    case DType::kF16: case DType::kBF16: fill_from(t.u16(), n, proto.half_val(), what); break;
    default: fail("{}: unsupported constant dtype", what);
  }
  return t;
}

}  // namespace kiln::tf
