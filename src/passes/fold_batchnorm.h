// Folds an inference BatchNormalization into the Conv feeding it:
//   BN(conv(X, W) + b) = conv(X, W * s) + (b - mean) * s + bias,  s = scale / sqrt(var + eps)
// per output channel. Applies when the Conv's output has no other reader, the BN
// parameters and the Conv weights are float32 constants. Weights shared with other nodes
// stay untouched: the folded ones are new constants.
#pragma once

#include <memory>

#include "passes/pass.h"

namespace kiln::passes {

// Returns the number of BatchNormalization nodes folded.
int fold_batchnorm(ir::Graph& graph);
std::unique_ptr<Pass> make_fold_batchnorm_pass();

}  // namespace kiln::passes
