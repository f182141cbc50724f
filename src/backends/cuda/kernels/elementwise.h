// Elementwise kernels: binary arithmetic with numpy broadcasting, and unary activations.
//
// Contract: a, b and y share one float dtype (f32/f16/bf16), are densely packed row-major
// and are device pointers. Broadcasting follows numpy (trailing dimensions aligned, size 1
// stretches), rank at most 6 after alignment. y must not overlap a or b unless it is
// exactly one of them (in-place is fine). Same-shape inputs take a vectorized fast path.
#pragma once

#include <cstdint>

#include "backends/cuda/kernels/kernel_types.h"
#include "core/shape.h"

namespace kiln::cuda::kernels {

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv };

inline constexpr int kMaxKernelRank = 6;

// y = a (op) b with y's shape = broadcast_dims(a_dims, b_dims). Throws kiln::Error on
// shapes that do not broadcast, rank > 6, or a non-float dtype.
cudaError_t binary(BinaryOp op, DType dtype, const Dims& a_dims, const void* a, const Dims& b_dims,
                   const void* b, void* y, cudaStream_t stream);

// y = act(x) over `count` elements (in-place allowed).
cudaError_t activation(const Activation& act, DType dtype, int64_t count, const void* x, void* y,
                       cudaStream_t stream);

namespace detail {
// Output shape and per-input element strides (0 where broadcast), padded to 6 dims.
struct BroadcastIndex {
  int rank = 0;
  int64_t out_dims[kMaxKernelRank] = {};
  int64_t a_strides[kMaxKernelRank] = {};
  int64_t b_strides[kMaxKernelRank] = {};
};
cudaError_t launch_binary_same_shape(BinaryOp op, DType dtype, int64_t count, const void* a, const void* b,
                                     void* y, cudaStream_t stream);
cudaError_t launch_binary_broadcast(BinaryOp op, DType dtype, const BroadcastIndex& index, int64_t count,
                                    const void* a, const void* b, void* y, cudaStream_t stream);
cudaError_t launch_activation(const Activation& act, DType dtype, int64_t count, const void* x, void* y,
                              cudaStream_t stream);
}  // namespace detail

}  // namespace kiln::cuda::kernels
