// Declarations of the kernels listed in kernel_table.cc; definitions live in
// one file per op family (elementwise.cc, conv.cc, pool.cc, ...).
#pragma once

#include "backends/cpu/kernels.h"

namespace kiln::cpu {

using Inputs = std::vector<const Tensor*>;

// Returns input i, throwing if it is absent.
const Tensor& required(const Inputs& inputs, size_t i);

std::vector<Tensor> identity(const ir::Node& n, const Inputs& in);

}  // namespace kiln::cpu
