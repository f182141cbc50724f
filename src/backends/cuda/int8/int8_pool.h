// Max pooling over INT8 or FP8 (E4M3) NHWC tensors: the quantized max pool of
// quant/int8_plan.h, which passes a convolution's 8-bit output through at the same scale
// (max commutes with the monotonic quantization), so the float pool and the conversions
// around it disappear.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "backends/cuda/kernels/pooling.h"

namespace kiln::cuda::int8 {

// The windows of kernels::pool2d (padded positions ignored, a window with no input
// position gives 0), over `p.c` stored channels of x [n, in_h, in_w, c] into y [n, out_h,
// out_w, c], of INT8 values or (fp8) E4M3 codes. p.kind must be kMax and p.layout NHWC;
// throws kiln::Error on bad parameters.
cudaError_t max_pool_8bit_nhwc(const kernels::Pool2dParams& p, bool fp8, const void* x, void* y,
                               cudaStream_t stream);

namespace detail {
cudaError_t launch_8bit_max_pool(const kernels::Pool2dParams& p, bool fp8, const void* x, void* y,
                                 cudaStream_t stream);
}  // namespace detail

}  // namespace kiln::cuda::int8
