#include "backends/cuda/device_program.h"

namespace kiln::cuda {

Dims DeviceValue::dims_at(int batch) const {
  Dims d = dims;
  if (batched && !d.empty()) d[0] = batch;
  return d;
}

Dims DeviceValue::physical_dims_at(int batch) const {
  Dims d = dims_at(batch);
  if (layout == Layout::kNHWC && d.size() == 4) return {d[0], d[2], d[3], d[1]};
  return d;
}

size_t DeviceValue::bytes_at(int batch) const {
  return static_cast<size_t>(num_elements(dims_at(batch))) * dtype_size(dtype);
}

cudnnDataType_t cudnn_dtype(DType dtype) {
  switch (dtype) {
    case DType::kF32: return CUDNN_DATA_FLOAT;
    case DType::kF16: return CUDNN_DATA_HALF;
    case DType::kBF16: return CUDNN_DATA_BFLOAT16;
    case DType::kI8: return CUDNN_DATA_INT8;
    case DType::kI32: return CUDNN_DATA_INT32;
    default: fail_with(ErrorCode::kUnimplemented, "dtype {} has no cuDNN equivalent", dtype_name(dtype));
  }
}

cudaDataType_t cuda_dtype(DType dtype) {
  switch (dtype) {
    case DType::kF32: return CUDA_R_32F;
    case DType::kF16: return CUDA_R_16F;
    case DType::kBF16: return CUDA_R_16BF;
    case DType::kI8: return CUDA_R_8I;
    default: fail_with(ErrorCode::kUnimplemented, "dtype {} has no cuBLAS equivalent", dtype_name(dtype));
  }
}

}  // namespace kiln::cuda
