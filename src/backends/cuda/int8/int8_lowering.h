// Which convolutions of a calibrated graph run in INT8 on the GPU, and their device
// constants. Rules (the rest falls back to FP16 with casts):
//   - Conv / kiln.FusedConv, 2-D, group 1, symmetric pads, constant f32 weights,
//     activation none or relu, and both its input and output calibrated;
//   - its output stays INT8 only when every consumer is such a convolution (as input X or
//     residual Z) and it is not a graph output; otherwise it is written as FP16.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"
#include "quant/calibration.h"

namespace kiln::cuda::int8 {

// Channel padding of quantized tensors: INT8 to 4 (cuDNN's INT8 requirement), FP8 to 16
// (16-byte rows, what FP8 tensor-core kernels and cuBLASLt's FP8 GEMMs ask for).
inline int64_t pad_channels(int64_t c) { return (c + 3) / 4 * 4; }
inline int64_t pad_channels(int64_t c, DType q) { return q == DType::kFP8E4M3 ? (c + 15) / 16 * 16 : pad_channels(c); }

struct Int8Plan {
  std::vector<bool> conv_runs_int8;  // per node
  std::vector<bool> value_is_int8;   // per value: written as INT8 by its producer
};
// Convolutions with fewer input channels than this stay in FP16: cuDNN's INT8 kernels are
// built for wide channels, and on an H200 ResNet-50's RGB stem (3 channels, padded to 4)
// took 4.3 ms in INT8 against 1.27 ms in FP16 at batch 256. KILN_INT8_MIN_CHANNELS
// overrides it (the kernel tests set 1 to put narrow convolutions through INT8).
int min_int8_input_channels();
// `only` (when given): the names of the convolutions that may run in INT8 — `--precision
// best` keeps the others in FP16 — on top of the rules above.
Int8Plan plan_int8_convs(const ir::Graph& graph, const quant::CalibrationTable& table,
                         int min_input_channels = min_int8_input_channels(),
                         const std::set<std::string>* only = nullptr);

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
