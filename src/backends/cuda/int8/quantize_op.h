// The QuantizeInt8 / QuantizeFp8 device op: f32 or f16 NHWC in, INT8 (channels padded to 4)
// or E4M3 (padded to 16) NHWC out, y = Q(x * inv_scale), padded channels 0 (int8_ops.h).
#pragma once

#include <memory>
#include <vector>

#include "backends/cuda/device_program.h"
#include "ir/graph.h"

namespace kiln::cuda {

std::unique_ptr<DeviceOp> make_quantize_op(const ir::Node& node, const std::vector<DeviceValue>& values);

}  // namespace kiln::cuda
