// Element type conversion on the device: f32 <-> f16 <-> bf16 (round to nearest even),
// and u8 -> f32/f16/bf16 (exact). Contract: x and y are densely packed device arrays of
// `count` elements; they may not overlap unless from == to (then it is a copy).
#pragma once

#include <cstdint>

#include "backends/cuda/kernels/kernel_types.h"

namespace kiln::cuda::kernels {

// Throws kiln::Error naming the pair when the conversion is not one of the above.
cudaError_t cast(DType from, DType to, int64_t count, const void* x, void* y, cudaStream_t stream);

namespace detail {
cudaError_t launch_cast(DType from, DType to, int64_t count, const void* x, void* y, cudaStream_t stream);
}  // namespace detail

}  // namespace kiln::cuda::kernels
