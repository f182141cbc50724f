// Pooling kernels: windowed max / average pooling and global pooling.
//
// Contract: x and y are device pointers of one float dtype (f32/f16/bf16), 4-D, in the
// given layout. The caller resolves ONNX's auto_pad and ceil_mode into explicit pads and
// output sizes; windows that run past the padded input are clipped. Max pooling ignores
// padded positions; average pooling divides by the count of real input positions, or
// with count_include_pad by the positions inside the padded input [-pad_begin, in+pad_end).
// Accumulation is f32. Global pooling writes y as [N, C] (= [N,C,1,1] = [N,1,1,C]).
#pragma once

#include <cstdint>

#include "backends/cuda/kernels/kernel_types.h"

namespace kiln::cuda::kernels {

enum class PoolKind : uint8_t { kMax, kAverage };

struct Pool2dParams {
  PoolKind kind = PoolKind::kMax;
  Layout layout = Layout::kNCHW;
  DType dtype = DType::kF32;
  int64_t n = 0, c = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;
  bool count_include_pad = false;
};

// Throws kiln::Error, naming `who`, on negative or empty sizes, non-positive kernel sizes,
// strides or dilations, or negative pads (what every 2-D pooling kernel requires).
void check_pool2d_params(const Pool2dParams& params, const char* who);

// Throws kiln::Error on non-positive sizes/strides/dilations, negative pads or a
// non-float dtype; returns the launch status.
cudaError_t pool2d(const Pool2dParams& params, const void* x, void* y, cudaStream_t stream);

// Global max/average over H*W (`spatial` = H*W). The NHWC path reads 16-byte vectors
// of channels (when C and the pointers allow) and splits H*W across a block's rows.
cudaError_t global_pool(PoolKind kind, Layout layout, DType dtype, int64_t n, int64_t c, int64_t spatial,
                        const void* x, void* y, cudaStream_t stream);

namespace detail {
cudaError_t launch_pool2d(const Pool2dParams& params, const void* x, void* y, cudaStream_t stream);
cudaError_t launch_global_pool(PoolKind kind, Layout layout, DType dtype, int64_t n, int64_t c, int64_t spatial,
                               const void* x, void* y, cudaStream_t stream);
}  // namespace detail

}  // namespace kiln::cuda::kernels
