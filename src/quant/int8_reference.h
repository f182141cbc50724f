// The INT8 convolution in plain integer arithmetic: the oracle that GPU INT8 kernels are
// checked against. Quantization is symmetric (zero point 0): q = saturate(round(x / s))
// with round-half-to-even and saturation to [-128, 127], as ONNX QuantizeLinear does.
//
// A quantized convolution computes exact int32 sums of int8 products, then one float
// epilogue per output element, written with explicit fused multiply-adds so a device
// kernel can reproduce it bit for bit:
//   v = fma(acc, x_scale * w_scale[k], bias[k]);  v = fma(z_q, z_scale, v)  (int8 residual)
//   v = max(v, 0) (relu);  y_q = saturate(round(v * (1 / y_scale)))
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace kiln::quant {

int8_t quantize_int8(float x, float inv_scale);
// f32 tensor -> i8 tensor of the same shape with one scale.
Tensor quantize_per_tensor(const Tensor& x, float scale);
// f32 weights [K, ...] -> i8 with one scale per output channel (axis 0).
Tensor quantize_per_channel(const Tensor& w, const std::vector<float>& scales);

struct ConvGeometry {
  std::vector<int64_t> pads = {0, 0, 0, 0};  // top, left, bottom, right
  std::vector<int64_t> strides = {1, 1};
  std::vector<int64_t> dilations = {1, 1};
};

// x: i8 [N,C,H,W]; w: i8 [K,C,R,S] -> i32 [N,K,Ho,Wo] exact sums. Throws on shape mismatch.
Tensor int8_conv_accumulate(const Tensor& x, const Tensor& w, const ConvGeometry& geometry);

// The float value of one output before requantization (see the header comment).
float int8_epilogue(int32_t acc, float combined_scale, float bias, float residual_term_scale, int8_t residual_q,
                    bool has_residual, bool relu);

}  // namespace kiln::quant
