// The ops other than convolution and GEMM: thin host wrappers that launch the kernels of
// src/backends/cuda/kernels/ for one node of the lowered graph.
#pragma once

#include <memory>

#include "backends/cuda/device_program.h"
#include "ir/graph.h"

namespace kiln::cuda {

// Pooling, activations, binary arithmetic, batch norm (as a channel affine map), softmax,
// concat, kiln.Convert and the reshape-like ops (which alias their input and launch nothing).
// Returns nullptr for op types it does not handle.
std::unique_ptr<DeviceOp> make_basic_op(const ir::Node& node, const std::vector<DeviceValue>& values);

// Reshape-like ops whose output shares the input's buffer.
bool is_alias_op(const std::string& op);

}  // namespace kiln::cuda
