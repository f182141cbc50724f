// Constant folding: evaluates every node whose inputs are all constants with the CPU
// reference kernels and replaces it by its result, folds shape computations (also when
// the batch dimension is dynamic, see constant_folding.cc), then removes dead nodes.
#pragma once

#include <memory>

#include "passes/pass.h"

namespace kiln::passes {

void fold_constants(ir::Graph& graph);
std::unique_ptr<Pass> make_constant_folding_pass();

}  // namespace kiln::passes
