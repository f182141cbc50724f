// Classifier tails on the GPU: the index of each row's largest value (ArgMax over the last
// axis, as TensorFlow's "classes" outputs compute it) and int64 -> int32 conversion.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "core/dtype.h"

namespace kiln::cuda::kernels {

// y[r] = index of the largest x[r, :] (the first one on ties); x is f32, f16 or bf16 in
// row-major [rows, cols].
cudaError_t argmax_last_axis(DType dtype, int64_t rows, int64_t cols, const void* x, int64_t* y,
                             cudaStream_t stream);

// y = x, saturated to the int32 range.
cudaError_t int64_to_int32(int64_t n, const int64_t* x, int32_t* y, cudaStream_t stream);

}  // namespace kiln::cuda::kernels
