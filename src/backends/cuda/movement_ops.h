// Device ops that only move bytes: Slice, Split, Pad (constant) and Transpose, after
// lower_for_device turned their constant inputs into attributes (starts/steps, split,
// pads/value, perm; all in logical ONNX axis order). Slice, Split and Pad run in their
// input's memory order, so an NHWC activation is never converted for them.
#pragma once

#include <memory>
#include <vector>

#include "backends/cuda/device_program.h"
#include "ir/graph.h"

namespace kiln::cuda {

// nullptr when `node` is not one of these ops.
std::unique_ptr<DeviceOp> make_movement_op(const ir::Node& node, const std::vector<DeviceValue>& values);

}  // namespace kiln::cuda
