// FP8 E4M3 ("e4m3fn": 1 sign, 4 exponent bits with bias 7, 3 mantissa bits, no infinities,
// 0x7f/0xff NaN) on the host: weight quantization in the lowering and the CPU emulation the
// GPU FP8 convolutions are tested against.
//
// Conversion rounds to nearest, ties to even, and saturates to +-448 (the largest finite
// value), which is what the device's __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)
// does, so host- and device-quantized tensors hold the same codes.
//
// Scales are symmetric like INT8's: x_fp8 = e4m3(x / s) with s = threshold / 448 for
// activations and max|w| / 448 per output channel for weights.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace kiln::quant {

constexpr float kFp8E4M3Max = 448.0f;

uint8_t float_to_e4m3(float x);
float e4m3_to_float(uint8_t code);
// x rounded to the nearest E4M3 value (saturated), as a float.
inline float round_to_e4m3(float x) { return e4m3_to_float(float_to_e4m3(x)); }

// Per-output-channel FP8 weight scales (max |w| / 448 along every axis but 0); all-zero
// channels get scale 1.
std::vector<float> fp8_per_channel_scales(const Tensor& weights);

}  // namespace kiln::quant
