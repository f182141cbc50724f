// Which convolutions of a calibrated graph run quantized (INT8 or FP8), on the GPU and in
// the CPU simulation alike. Rules:
//   - Conv / kiln.FusedConv, 2-D, group 1, symmetric pads, constant f32 weights,
//     activation none or relu, at least min_input_channels input channels (or a thin
//     stride-2 stem that the space-to-depth rewrite widens, quant/space_to_depth.h), and
//     both its input and output calibrated;
//   - its output stays quantized only when every consumer is such a convolution (as input X
//     or residual Z) and it is not a graph output; otherwise it is written in float;
//   - with quantized_max_pools (INT8 and FP8 builds on the GPU): a MaxPool that is the only reader of
//     such a convolution's output, and whose own output is read only by such convolutions,
//     runs on the quantized values. Max commutes with the monotonic quantization when both
//     sides use one scale, so the convolution quantizes with the pool output's calibrated
//     scale and the pool passes its values through: the same result as quantizing after a
//     float pool, at a quarter of the pool's bytes.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/calibration.h"

namespace kiln::quant {

struct Int8Plan {
  std::vector<bool> conv_runs_int8;  // per node
  std::vector<bool> pool_runs_int8;  // per node: a MaxPool on quantized values
  std::vector<bool> value_is_int8;   // per value: written as INT8 by its producer
  // Per value: the value whose calibrated scale its quantized form carries. Itself, except a
  // convolution output read by a quantized max pool: the pool's output.
  std::vector<int> scale_of;
};
// Convolutions with fewer input channels than this stay in FP16 unless rewritten: cuDNN's
// INT8 kernels are built for wide channels, and on an H200 ResNet-50's RGB stem (3
// channels, padded to 4) took 4.3 ms in INT8 against 1.27 ms in FP16 at batch 256.
// KILN_INT8_MIN_CHANNELS overrides it (the kernel tests set 1 to put narrow convolutions
// through INT8).
int min_int8_input_channels();
// `only` (when given): the names of the convolutions that may run in INT8 — `--precision
// best` keeps the others in FP16 — on top of the rules above.
Int8Plan plan_int8_convs(const ir::Graph& graph, const CalibrationTable& table,
                         int min_input_channels = min_int8_input_channels(),
                         const std::set<std::string>* only = nullptr, bool quantized_max_pools = false);

}  // namespace kiln::quant
