// Device ops of the INT8 and FP8 paths (nodes the lowering emits, domain "kiln"):
//
//   QuantizeInt8  X (f32/f16 NHWC, C channels) -> Y (i8 NHWC, C padded to 4); attr inv_scale.
//   Int8Conv      X (i8 NHWC), W (i8 KRSC, both channel counts padded to 4), SCALE (f32 [K4]:
//                 x_scale * w_scale[k]), BIAS (f32 [K4]), [Z] (i8 like Y, or f16 [N,K,H,W] NHWC)
//                 -> Y (i8 [N,K4,H,W] or f16 [N,K,H,W], NHWC), ACC (f32 [N,K4,H,W] scratch).
//                 attrs: pads, strides, dilations, relu, y_inv_scale, z_scale.
//
//   QuantizeFp8, Fp8Conv: the same with E4M3 activations and weights (fp8e4m3, channels padded
//                 to 16), FP8 or f16 residual and output; scales are threshold / 448 and
//                 max|w| / 448 (quant/fp8.h). One op class serves both types.
//
// Int8Conv picks its implementation by timing (docs/precision.md, "Kernels (tactics)"):
// a fused cuDNN graph-API convolution, a fused cuBLASLt IMMA GEMM (1x1 convolutions), or
// cuDNN's legacy INT8 call / kiln's direct kernel writing ACC (int32 sums as f32) followed
// by one epilogue kernel applying per-channel scales, bias, residual, relu and requantization.
#pragma once

#include <memory>

#include "backends/cuda/device_program.h"
#include "ir/graph.h"

namespace kiln::cuda {

// nullptr when `node` is not one of the INT8 / FP8 ops.
std::unique_ptr<DeviceOp> make_int8_op(const ir::Node& node, const std::vector<DeviceValue>& values);

}  // namespace kiln::cuda
