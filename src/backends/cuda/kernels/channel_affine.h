// Per-channel scale/shift + optional residual + activation, in one pass:
//   y = act(x * scale[c] + shift[c] + residual)
// It is the epilogue for convolutions whose bias/residual/activation cuDNN cannot fuse,
// and a standalone BatchNorm (scale = gamma / sqrt(var + eps), shift = beta - mean * scale).
//
// Contract: x, residual and y share one float dtype and the 4-D shape [N,C,H,W] or
// [N,H,W,C] given by layout (any rank works as NCHW with spatial = product of the
// trailing dims). scale and shift are f32 device arrays of C values; either may be null
// (meaning 1 and 0). residual may be null. In-place (y == x or y == residual) is fine.
#pragma once

#include <cstdint>

#include "backends/cuda/kernels/kernel_types.h"

namespace kiln::cuda::kernels {

struct ChannelAffineParams {
  Layout layout = Layout::kNCHW;
  DType dtype = DType::kF32;
  int64_t n = 0, c = 0, spatial = 0;  // spatial = H * W
  Activation activation;
};

cudaError_t channel_affine(const ChannelAffineParams& params, const void* x, const float* scale,
                           const float* shift, const void* residual, void* y, cudaStream_t stream);

namespace detail {
cudaError_t launch_channel_affine(const ChannelAffineParams& params, const void* x, const float* scale,
                                  const float* shift, const void* residual, void* y, cudaStream_t stream);
}  // namespace detail

}  // namespace kiln::cuda::kernels
