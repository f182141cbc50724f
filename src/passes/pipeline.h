// The optimizer pipeline every backend build starts from.
//
//   native:  constant folding only (the imported graph as the framework would run it)
//   others:  constant folding, eliminate_identity, fold_batchnorm, fuse_conv_epilogue,
//            fuse_gemm_epilogue, eliminate_dead_nodes
//
// Precision assignment and layout changes are not done here: they belong to the backend
// that knows its kernels (the CUDA backend), and the CPU backend runs fp32 NCHW.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/precision.h"
#include "ir/graph.h"

namespace kiln::passes {

struct OptimizeReport {
  size_t nodes_before = 0;
  size_t nodes_after = 0;
  std::vector<std::pair<std::string, int>> rewrites;  // pass name, rewrites made ({} for constant folding)
};

// Rewrites the graph in place and verifies it; errors name the pass and the node.
OptimizeReport optimize_for_inference(ir::Graph& graph, Precision precision);

}  // namespace kiln::passes
