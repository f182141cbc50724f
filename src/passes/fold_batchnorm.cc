#include "passes/fold_batchnorm.h"

#include <cmath>

#include "passes/function_pass.h"
#include "passes/graph_rewrite.h"

namespace kiln::passes {

namespace {

// The per-channel parameter at input i, when it is an f32 constant with `channels` values.
const float* channel_param(const ir::Graph& g, const ir::Node& bn, size_t i, int64_t channels) {
  if (!bn.has_input(i)) return nullptr;
  const Tensor* t = f32_constant(g, bn.inputs[i]);
  return t && t->numel() == channels ? t->data<float>() : nullptr;
}

bool try_fold(ir::Graph& g, const ValueUses& uses, int bn_index) {
  ir::Node& bn = g.nodes[bn_index];
  if (bn.op != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() < 5 || bn.outputs.empty()) return false;
  for (size_t k = 1; k < bn.outputs.size(); ++k)  // training-mode outputs must be unused
    if (!uses.unused(bn.outputs[k])) return false;
  const int x = bn.inputs[0];
  if (x == ir::kNoValue || uses.sole_reader(x) != bn_index) return false;
  const int conv_index = uses.producer[x];
  if (conv_index < 0) return false;
  ir::Node& conv = g.nodes[conv_index];
  if (conv.op != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1 || !conv.has_input(1)) return false;

  const Tensor* w = f32_constant(g, conv.inputs[1]);
  if (!w || w->rank() < 3) return false;
  const int64_t channels = w->dim(0);
  const Tensor* conv_bias = conv.has_input(2) ? f32_constant(g, conv.inputs[2]) : nullptr;
  if (conv.has_input(2) && (!conv_bias || conv_bias->numel() != channels)) return false;
  const float* scale = channel_param(g, bn, 1, channels);
  const float* shift = channel_param(g, bn, 2, channels);
  const float* mean = channel_param(g, bn, 3, channels);
  const float* var = channel_param(g, bn, 4, channels);
  if (!scale || !shift || !mean || !var) return false;
  const double eps = bn.attrs.get_float("epsilon", 1e-5f);

  Tensor new_w = w->clone();
  Tensor new_b(DType::kF32, {channels});
  const int64_t per_channel = w->numel() / channels;
  float* wd = new_w.data<float>();
  for (int64_t c = 0; c < channels; ++c) {
    // Double precision: var + eps can be tiny and the product is rounded once.
    const double s = scale[c] / std::sqrt(static_cast<double>(var[c]) + eps);
    for (int64_t k = 0; k < per_channel; ++k) wd[c * per_channel + k] = static_cast<float>(wd[c * per_channel + k] * s);
    const double b = conv_bias ? conv_bias->data<float>()[c] : 0.0;
    new_b.data<float>()[c] = static_cast<float>((b - mean[c]) * s + shift[c]);
  }
  const std::string base = conv.name.empty() ? g.value(x).name : conv.name;
  const int w_value = g.add_constant(g.unique_name(base + "_bn_weight"), std::move(new_w));
  const int b_value = g.add_constant(g.unique_name(base + "_bn_bias"), std::move(new_b));
  conv.inputs.resize(3);
  conv.inputs[1] = w_value;
  conv.inputs[2] = b_value;
  conv.outputs[0] = bn.outputs[0];
  empty_node(bn);
  return true;
}

}  // namespace

int fold_batchnorm(ir::Graph& graph) {
  int folded = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (graph.nodes[n].op != "BatchNormalization") continue;
    const ValueUses uses = compute_uses(graph);
    if (try_fold(graph, uses, static_cast<int>(n))) ++folded;
  }
  erase_emptied_nodes(graph);
  return folded;
}

std::unique_ptr<Pass> make_fold_batchnorm_pass() {
  return std::make_unique<FunctionPass>("fold_batchnorm", fold_batchnorm);
}

}  // namespace kiln::passes
