// Gemm, kiln.FusedGemm and 2-D MatMul with constant weights through cuBLASLt: f32 output,
// bias and relu in the cuBLASLt epilogue, other activations by one kernel afterwards.
#pragma once

#include <memory>

#include "backends/cuda/device_program.h"
#include "engine/precision.h"
#include "ir/graph.h"

namespace kiln::cuda {

std::unique_ptr<DeviceOp> make_gemm_op(const ir::Node& node, const std::vector<DeviceValue>& values,
                                       Precision precision);

}  // namespace kiln::cuda
