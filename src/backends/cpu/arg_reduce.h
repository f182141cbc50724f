#pragma once

#include "backends/cpu/kernels.h"

namespace kiln::cpu {

// ArgMax / ArgMin (ONNX, select_last_index supported): int64 indices along `axis`.
std::vector<Tensor> argmax(const ir::Node& n, const std::vector<const Tensor*>& in);
std::vector<Tensor> argmin(const ir::Node& n, const std::vector<const Tensor*>& in);

}  // namespace kiln::cpu
