// The CPU backend: interprets the graph node by node with the reference kernels.
// Any batch size runs (shapes come from the inputs at run time).
#pragma once

#include <memory>

#include "engine/engine.h"

namespace kiln::cpu {

std::unique_ptr<Backend> make_cpu_backend();

// Runs a whole graph once on host tensors (used by tests and by calibration).
std::vector<Tensor> run_graph(const ir::Graph& graph, const std::vector<Tensor>& inputs);

}  // namespace kiln::cpu
