#include "passes/fusable_activation.h"

#include <limits>

namespace kiln::passes {

namespace {

// A Clip bound given as an optional input: absent -> fallback; constant scalar -> its
// value; anything else -> nullopt (the bound is only known at run time).
std::optional<float> clip_bound(const ir::Graph& graph, const ir::Node& node, size_t i, float fallback) {
  if (!node.has_input(i)) return fallback;
  const ir::Value& v = graph.value(node.inputs[i]);
  if (!v.constant || v.constant->numel() != 1 || !is_float(v.constant->dtype())) return std::nullopt;
  return static_cast<float>(v.constant->to_doubles()[0]);
}

}  // namespace

std::optional<FusedActivation> as_fusable_activation(const ir::Graph& graph, const ir::Node& node) {
  if (!node.domain.empty() || node.outputs.size() != 1 || !node.has_input(0)) return std::nullopt;
  const std::string& op = node.op;
  if (op == "Relu") return FusedActivation{"relu", 0, 0};
  if (op == "Sigmoid") return FusedActivation{"sigmoid", 0, 0};
  if (op == "HardSwish") return FusedActivation{"hard_swish", 0, 0};
  if (op == "LeakyRelu") return FusedActivation{"leaky_relu", node.attrs.get_float("alpha", 0.01f), 0};
  if (op == "HardSigmoid")
    return FusedActivation{"hard_sigmoid", node.attrs.get_float("alpha", 0.2f), node.attrs.get_float("beta", 0.5f)};
  if (op == "Clip") {
    auto lo = clip_bound(graph, node, 1, std::numeric_limits<float>::lowest());
    auto hi = clip_bound(graph, node, 2, std::numeric_limits<float>::max());
    if (!lo || !hi) return std::nullopt;
    return FusedActivation{"clip", *lo, *hi};
  }
  return std::nullopt;
}

void set_activation_attrs(ir::Attributes& attrs, const FusedActivation& act) {
  attrs.set("activation", act.kind);
  attrs.set("act_alpha", act.alpha);
  attrs.set("act_beta", act.beta);
}

}  // namespace kiln::passes
