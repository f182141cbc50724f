// The device constants of the convolutions that run in INT8 (or FP8) on the GPU; which ones
// do is decided by quant::plan_int8_convs (the rest falls back to FP16 with casts).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"
#include "quant/calibration.h"
#include "quant/int8_plan.h"

namespace kiln::cuda::int8 {

// Channel padding of quantized tensors: INT8 to 4 (cuDNN's INT8 requirement), FP8 to 16
// (16-byte rows, what FP8 tensor-core kernels and cuBLASLt's FP8 GEMMs ask for).
inline int64_t pad_channels(int64_t c) { return (c + 3) / 4 * 4; }
inline int64_t pad_channels(int64_t c, DType q) { return q == DType::kFP8E4M3 ? (c + 15) / 16 * 16 : pad_channels(c); }

// Which convolutions run quantized: quant/int8_plan.h, shared with the CPU simulation.
using quant::Int8Plan;
using quant::min_int8_input_channels;
using quant::plan_int8_convs;

struct Int8ConvConstants {
  Tensor weights;  // i8 or fp8e4m3, logical [K_pad, C_pad, R, S], bytes in KRSC order, zero padding
  Tensor scale;    // f32 [K_pad]: x_scale * per-channel weight scale (1 for padding)
  Tensor bias;     // f32 [K_pad]
};
// `weights` f32 [K, C, R, S]; `bias` f32 [K] or nullptr. `q` is kI8 (weights scaled by
// max|w|/127 per channel) or kFP8E4M3 (max|w|/448 per channel, E4M3 codes).
Int8ConvConstants int8_conv_constants(const Tensor& weights, const Tensor* bias, float x_scale, int64_t c_pad,
                                      DType q = DType::kI8);

}  // namespace kiln::cuda::int8
