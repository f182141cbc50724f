// Reference CPU kernels: plain, readable implementations of every supported op, the
// oracle every other backend is tested against. Conv and Gemm go through BLAS.
//
// A kernel reads the node's attributes and its input tensors (nullptr for an omitted
// optional input) and returns freshly allocated outputs. Kernels throw kiln::Error on
// invalid input; run_node adds the node's name and op to the message.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"

namespace kiln::cpu {

using Kernel = std::vector<Tensor> (*)(const ir::Node& node, const std::vector<const Tensor*>& inputs);

// Op type -> kernel (single explicit table in kernel_table.cc).
const std::map<std::string, Kernel>& kernels();
bool has_kernel(const std::string& op);

// Runs one node; errors are rethrown as 'node "name" (Op): message'.
std::vector<Tensor> run_node(const ir::Node& node, const std::vector<const Tensor*>& inputs);

}  // namespace kiln::cpu
