#include "passes/fuse_conv_epilogue.h"

#include <optional>

#include "passes/function_pass.h"
#include "passes/fusable_activation.h"
#include "passes/graph_rewrite.h"

namespace kiln::passes {

namespace {

// Explicit 2-D pads [top, left, bottom, right], resolving auto_pad when the input's
// spatial size is known; nullopt when it cannot be resolved.
std::optional<std::vector<int64_t>> explicit_pads(const ir::Graph& g, const ir::Node& conv, const Dims& w_dims,
                                                  const std::vector<int64_t>& strides,
                                                  const std::vector<int64_t>& dilations) {
  const std::string auto_pad = conv.attrs.get_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    std::vector<int64_t> pads = conv.attrs.get_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) return std::nullopt;
    return pads;
  }
  if (auto_pad == "VALID") return std::vector<int64_t>{0, 0, 0, 0};
  if (auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") return std::nullopt;
  const ir::Value& x = g.value(conv.inputs[0]);
  if (!x.shape_known || x.dims.size() != 4) return std::nullopt;
  std::vector<int64_t> pads(4);
  for (int a = 0; a < 2; ++a) {
    const int64_t in = x.dims[2 + a];
    if (in < 0) return std::nullopt;
    const int64_t out = (in + strides[a] - 1) / strides[a];
    const int64_t total = std::max<int64_t>(0, (out - 1) * strides[a] + (w_dims[2 + a] - 1) * dilations[a] + 1 - in);
    const int64_t small = total / 2;
    pads[a] = auto_pad == "SAME_UPPER" ? small : total - small;
    pads[a + 2] = total - pads[a];
  }
  return pads;
}

// A constant that, added to a [N, C, H, W] conv output, adds one value per channel
// (shapes [1,C,1,1], [C,1,1], [1], ...), broadcast along every other axis.
bool is_channel_bias(const Tensor& c, int64_t channels) {
  if (c.rank() > 4) return false;
  for (int64_t k = 0; k < c.rank(); ++k) {
    const int64_t axis = 4 - c.rank() + k;
    const int64_t d = c.dims()[k];
    if (d != 1 && !(axis == 1 && d == channels)) return false;
  }
  return true;
}

class ConvFusion {
 public:
  ConvFusion(ir::Graph& g, int conv_index) : g_(g), conv_index_(conv_index) {}

  bool run() {
    ir::Node& conv = g_.nodes[conv_index_];
    if (conv.op != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1 || !conv.has_input(1)) return false;
    // Copies, not references: adding constants below may reallocate the value table.
    const ir::Value w = g_.value(conv.inputs[1]);
    if (!w.shape_known || w.dims.size() != 4 || w.dims[0] < 0) return false;
    const ir::Value y = g_.value(conv.outputs[0]);
    if (!y.shape_known || y.dims.size() != 4) return false;
    channels_ = w.dims[0];
    const auto strides = conv.attrs.get_ints("strides", {1, 1});
    const auto dilations = conv.attrs.get_ints("dilations", {1, 1});
    if (strides.size() != 2 || dilations.size() != 2 || strides[0] < 1 || strides[1] < 1) return false;
    const auto pads = explicit_pads(g_, conv, w.dims, strides, dilations);
    if (!pads) return false;
    bias_ = conv.has_input(2) ? conv.inputs[2] : ir::kNoValue;
    if (bias_ != ir::kNoValue) {
      const Tensor* b = f32_constant(g_, bias_);
      bias_is_f32_constant_ = b && b->numel() == channels_;
    } else {
      bias_is_f32_constant_ = y.dtype == DType::kF32;
    }

    int current = conv.outputs[0];
    while (absorb_add(current)) {}
    std::optional<FusedActivation> act;
    const int reader = uses_.sole_reader(current);
    if (reader >= 0) act = as_fusable_activation(g_, g_.nodes[reader]);
    if (act) {
      fused_.push_back(reader);
      current = g_.nodes[reader].outputs[0];
    }
    if (fused_.empty()) return false;

    ir::Node& node = g_.nodes[conv_index_];
    ir::Attributes attrs;
    attrs.set("kernel_shape", std::vector<int64_t>{w.dims[2], w.dims[3]});
    attrs.set("strides", strides);
    attrs.set("pads", *pads);
    attrs.set("dilations", dilations);
    attrs.set("group", node.attrs.get_int("group", 1));
    set_activation_attrs(attrs, act.value_or(FusedActivation{}));
    std::vector<int> inputs = {node.inputs[0], node.inputs[1], bias_, residual_};
    while (inputs.back() == ir::kNoValue) inputs.pop_back();
    node.op = "FusedConv";
    node.domain = "kiln";
    node.inputs = std::move(inputs);
    node.outputs = {current};
    node.attrs = std::move(attrs);
    for (int n : fused_) empty_node(g_.nodes[n]);
    return true;
  }

  void set_uses(ValueUses uses) { uses_ = std::move(uses); }

 private:
  // Folds the Add reading `current` into the conv; returns false when it cannot.
  bool absorb_add(int& current) {
    const int reader = uses_.sole_reader(current);
    if (reader < 0) return false;
    const ir::Node& add = g_.nodes[reader];
    if (add.op != "Add" || !add.domain.empty() || add.inputs.size() != 2 || add.outputs.size() != 1) return false;
    const int other = add.inputs[0] == current ? add.inputs[1] : add.inputs[0];
    if (other == ir::kNoValue) return false;
    const ir::Value& out = g_.value(add.outputs[0]);
    const ir::Value& cur = g_.value(current);
    if (!out.shape_known || out.dims != cur.dims || out.dtype != cur.dtype) return false;

    const ir::Value& o = g_.value(other);
    if (o.constant) {
      if (!bias_is_f32_constant_ || o.constant->dtype() != DType::kF32 || !is_channel_bias(*o.constant, channels_))
        return false;
      add_to_bias(Tensor(*o.constant));
    } else {
      // A residual must be ready before the conv runs and have exactly the output's shape.
      if (residual_ != ir::kNoValue || !o.shape_known || o.dims != cur.dims || o.dtype != cur.dtype) return false;
      if (uses_.producer[other] > conv_index_) return false;
      residual_ = other;
    }
    fused_.push_back(reader);
    current = add.outputs[0];
    return true;
  }

  void add_to_bias(Tensor c) {
    Tensor bias(DType::kF32, {channels_});
    float* b = bias.data<float>();
    if (bias_ != ir::kNoValue) {
      const float* old = g_.value(bias_).constant->data<float>();
      for (int64_t i = 0; i < channels_; ++i) b[i] = old[i];
    }
    const float* add = c.data<float>();
    for (int64_t i = 0; i < channels_; ++i) b[i] += c.numel() == 1 ? add[0] : add[i];
    const std::string base = g_.nodes[conv_index_].name.empty() ? "conv" : g_.nodes[conv_index_].name;
    bias_ = g_.add_constant(g_.unique_name(base + "_fused_bias"), std::move(bias));
  }

  ir::Graph& g_;
  int conv_index_;
  ValueUses uses_;
  int64_t channels_ = 0;
  int bias_ = ir::kNoValue;
  bool bias_is_f32_constant_ = false;
  int residual_ = ir::kNoValue;
  std::vector<int> fused_;  // nodes absorbed into the conv
};

}  // namespace

int fuse_conv_epilogue(ir::Graph& graph) {
  int fused = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (graph.nodes[n].op != "Conv" || !graph.nodes[n].domain.empty()) continue;
    ConvFusion fusion(graph, static_cast<int>(n));
    fusion.set_uses(compute_uses(graph));
    if (fusion.run()) ++fused;
  }
  erase_emptied_nodes(graph);
  return fused;
}

std::unique_ptr<Pass> make_fuse_conv_epilogue_pass() {
  return std::make_unique<FunctionPass>("fuse_conv_epilogue", fuse_conv_epilogue);
}

}  // namespace kiln::passes
