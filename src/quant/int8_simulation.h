// The INT8 scheme of the GPU engines, simulated in float on any backend: a copy of the
// optimized graph with QuantizeLinear/DequantizeLinear pairs wherever the INT8 lowering
// quantizes (the inputs of INT8 convolutions and their INT8 residuals, with the calibrated
// per-tensor scales) and the weights of those convolutions rounded to their per-channel INT8
// grid. It computes what the GPU's INT8 convolutions compute, up to float summation order,
// and is how `--device cpu --precision int8` runs: for accuracy checks on machines without a
// GPU, not for speed. Activations outside INT8 stay f32 here (FP16 on the GPU).
#pragma once

#include "ir/graph.h"
#include "quant/calibration.h"

namespace kiln::quant {

// `optimized`: the graph after optimize_for_inference(kINT8), which `table` was made for.
// `min_input_channels`: as plan_int8_convs (the GPU default keeps the RGB stem in float).
ir::Graph simulate_int8(const ir::Graph& optimized, const CalibrationTable& table, int min_input_channels);

}  // namespace kiln::quant
