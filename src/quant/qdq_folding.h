// Explicitly quantized models (ONNX QuantizeLinear / DequantizeLinear, "Q/DQ") on the
// INT8 GPU path: the Q/DQ pairs become the activation ranges of a calibration table, so
// the model runs with the ranges it carries and no calibration pass.
//
// What each pair Q(x; s, zp) -> DQ(.; s, zp) becomes, with lo = (qmin - zp) s and
// hi = (qmax - zp) s the range the pair can represent:
//   - lo == 0 (uint8 with zero point 0, how exporters fold a ReLU into the quantization):
//     a Relu, or nothing when x is already non-negative (the output of a Relu, or a
//     MaxPool / Reshape / Transpose / Split / Concat of such);
//   - symmetric (int8 with zero point 0, uint8 with 128): nothing;
//   - otherwise: a Clip to [lo, hi], which keeps the pair's lower clamp.
// The consumer's tensor gets the threshold max(-lo, hi). The INT8 convolutions quantize
// symmetrically with that threshold, so a uint8 tensor's step becomes hi / 127 (about
// twice the model's own) while its range stays the model's; layers that stay in floating
// point no longer round to the grid. Constant DequantizeLinear nodes (weights, biases)
// become float constants, which the INT8 lowering re-quantizes per output channel.
#pragma once

#include "ir/graph.h"
#include "quant/calibration.h"

namespace kiln::quant {

struct QdqFolding {
  CalibrationTable table;  // calibrator "qdq"
  int constants = 0;       // DequantizeLinear of constants turned into float constants
  int pairs = 0;           // Q/DQ pairs removed
  int relus = 0, clips = 0;  // nodes that replaced pairs
};

// Rewrites `graph` in place; throws kUnimplemented naming the node for Q/DQ it cannot
// fold (a QuantizeLinear whose output is not dequantized with the same parameters, a
// per-axis activation scale, a DequantizeLinear of a computed tensor not from a Q).
QdqFolding fold_qdq(ir::Graph& graph);

}  // namespace kiln::quant
