// Model cost figures for `kiln inspect`: FLOPs per image and parameter count.
//
// FLOPs follow the convention of papers and of trtexec/fvcore: 2 x multiply-adds of the
// layers that dominate the cost (Conv, ConvTranspose, Gemm, MatMul, their quantized and
// fused kiln forms); element-wise ops, pooling and normalization are not counted.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "ir/graph.h"

namespace kiln::ir {

struct FlopCount {
  int64_t total = 0;
  std::map<std::string, int64_t> by_op;  // op type -> FLOPs of all its nodes
  // Nodes whose cost could not be computed (shapes unknown even at batch 1).
  int uncounted_nodes = 0;
};

// FLOPs of one image: graph inputs whose first dimension is dynamic are fixed to 1 and
// shapes are re-inferred on a copy; the graph itself is not modified.
FlopCount count_flops_per_image(const Graph& graph);

// FLOPs from the shapes already in the graph (all must be static for a node to count).
FlopCount count_flops(const Graph& graph);

// Elements of the constant tensors the nodes read that are weights: non-scalar floating
// point and 8-bit tensors, and int32 quantized biases (shape/index constants, scalar
// quantization scales and BatchNormalization running statistics are not parameters).
int64_t count_parameters(const Graph& graph);

}  // namespace kiln::ir
