// Element-wise activations shared by the activation kernels and the fused
// kiln.FusedConv / kiln.FusedGemm epilogues (attributes `activation`, `act_alpha`, `act_beta`).
#pragma once

#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace kiln::cpu {

enum class ActivationKind { kNone, kRelu, kClip, kLeakyRelu, kSigmoid, kHardSigmoid, kHardSwish, kTanh };

struct Activation {
  ActivationKind kind = ActivationKind::kNone;
  float alpha = 0.f;  // clip: min; leaky_relu: slope; hard_sigmoid: alpha
  float beta = 0.f;   // clip: max; hard_sigmoid: beta
};

// Reads the fused-op activation attributes; throws on an unknown activation name.
Activation activation_from_attrs(const ir::Attributes& attrs);

// Applies the activation in place to n contiguous values.
template <typename T>
void apply_activation(const Activation& act, T* data, int64_t n);

}  // namespace kiln::cpu
