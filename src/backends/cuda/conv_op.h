// Convolutions through cuDNN 9, with bias, residual and activation fused where cuDNN can
// (cudnnConvolutionBiasActivationForward: relu, or identity with the implicit-precomputed
// GEMM algorithm) and otherwise followed by one channel_affine epilogue kernel.
//
// Tactic = (algorithm, fused or not): every candidate the cuDNN heuristics return is timed
// for the node's exact shapes at the engine's max batch, and the fastest kept.
#pragma once

#include <memory>

#include "backends/cuda/device_program.h"
#include "engine/precision.h"
#include "ir/graph.h"

namespace kiln::cuda {

// `node`: Conv or kiln.FusedConv after lowering; inputs X, W, B (act dtype), Z, B (f32),
// [W with input channels zero-padded to a multiple of 8] (fp16/bf16 NHWC, group 1).
std::unique_ptr<DeviceOp> make_conv_op(const ir::Node& node, const std::vector<DeviceValue>& values,
                                       Precision precision);

}  // namespace kiln::cuda
