// Activations that kiln.FusedConv / kiln.FusedGemm apply as their epilogue, and how a
// standalone activation node maps onto the fused ops' activation/act_alpha/act_beta.
#pragma once

#include <optional>
#include <string>

#include "ir/graph.h"

namespace kiln::passes {

struct FusedActivation {
  std::string kind = "none";  // none relu clip leaky_relu sigmoid hard_sigmoid hard_swish
  float alpha = 0;            // clip: min; leaky_relu: alpha; hard_sigmoid: alpha
  float beta = 0;             // clip: max; hard_sigmoid: beta
};

// The node as a fused activation, or nullopt when it is not one the fused ops can apply
// (e.g. a Clip whose bounds are computed at run time).
std::optional<FusedActivation> as_fusable_activation(const ir::Graph& graph, const ir::Node& node);

void set_activation_attrs(ir::Attributes& attrs, const FusedActivation& act);

}  // namespace kiln::passes
