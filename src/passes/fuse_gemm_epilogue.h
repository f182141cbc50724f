// Fuses Gemm (or a 2-D MatMul) with a following bias Add and activation into one
// kiln.FusedGemm:  Y = act(alpha * A' * B' + beta * C).
// The bias must be a float32 constant broadcast along rows ([N], [1, N] or a scalar);
// when the Gemm already has a constant C of that kind, beta * C + bias becomes the new C
// with beta = 1. A Flatten feeding the Gemm is left alone (the fused op is 2-D only).
#pragma once

#include <memory>

#include "passes/pass.h"

namespace kiln::passes {

// Returns the number of FusedGemm nodes created.
int fuse_gemm_epilogue(ir::Graph& graph);
std::unique_ptr<Pass> make_fuse_gemm_epilogue_pass();

}  // namespace kiln::passes
