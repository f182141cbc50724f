// Softmax and log-softmax over the last axis (opset-13 single-axis semantics after the
// caller has moved the axis last or reshaped to [rows, cols]).
//
// Contract: x is a device array [rows, cols] of f32/f16/bf16; y is always f32 [rows, cols]
// (class probabilities feed top-k and JSON, where f32 avoids a second cast). One block
// reduces each row in f32 with the max subtracted first, so large logits do not overflow.
#pragma once

#include <cstdint>

#include "backends/cuda/kernels/kernel_types.h"

namespace kiln::cuda::kernels {

cudaError_t softmax_last_axis(DType x_dtype, int64_t rows, int64_t cols, const void* x, float* y, bool log_softmax,
                              cudaStream_t stream);

namespace detail {
cudaError_t launch_softmax(DType x_dtype, int64_t rows, int64_t cols, const void* x, float* y, bool log_softmax,
                           cudaStream_t stream);
}  // namespace detail

}  // namespace kiln::cuda::kernels
