// Graph inputs/outputs as the engine API sees them, and input validation shared by backends.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "engine/engine.h"

namespace kiln {

std::vector<TensorInfo> graph_inputs(const ir::Graph& graph);
std::vector<TensorInfo> graph_outputs(const ir::Graph& graph);

// Throws kInvalidArgument naming the input and the expected vs. given dtype/shape.
void check_inputs(const ir::Graph& graph, const std::vector<Tensor>& inputs);

// "unsupported ops for <who>: Foo (node "a"), Bar (node "b")"
std::string describe_unsupported(const std::vector<std::pair<std::string, std::string>>& ops,
                                 const std::string& who);

}  // namespace kiln
