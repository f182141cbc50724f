#include "passes/fuse_gemm_epilogue.h"

#include <optional>

#include "passes/function_pass.h"
#include "passes/fusable_activation.h"
#include "passes/graph_rewrite.h"

namespace kiln::passes {

namespace {

// True for an f32 constant that broadcasts along the rows of an [M, N] result.
bool is_row_bias(const Tensor* t, int64_t n) {
  if (!t || t->rank() > 2) return false;
  if (t->rank() == 2 && t->dims()[0] != 1) return false;
  return t->numel() == 1 || (t->rank() >= 1 && t->dims().back() == n && t->numel() == n);
}

float row_value(const Tensor& t, int64_t i) { return t.numel() == 1 ? t.data<float>()[0] : t.data<float>()[i]; }

bool try_fuse(ir::Graph& g, const ValueUses& uses, int index) {
  ir::Node& node = g.nodes[index];
  if (!node.domain.empty() || node.outputs.size() != 1) return false;
  const bool is_gemm = node.op == "Gemm";
  if (!is_gemm && node.op != "MatMul") return false;
  if (!node.has_input(0) || !node.has_input(1)) return false;
  const ir::Value y = g.value(node.outputs[0]);  // a copy: constants may be added below
  if (!y.shape_known || y.dims.size() != 2 || y.dims[1] < 0) return false;
  if (!is_gemm) {  // MatMul is batched in general; the fused op is a plain 2-D product
    const ir::Value& a = g.value(node.inputs[0]);
    const ir::Value& b = g.value(node.inputs[1]);
    if (!a.shape_known || !b.shape_known || a.dims.size() != 2 || b.dims.size() != 2) return false;
  }
  const int64_t n = y.dims[1];
  float alpha = is_gemm ? node.attrs.get_float("alpha", 1.0f) : 1.0f;
  float beta = is_gemm ? node.attrs.get_float("beta", 1.0f) : 1.0f;
  int c = is_gemm && node.has_input(2) ? node.inputs[2] : ir::kNoValue;

  std::vector<int> absorbed;
  int current = node.outputs[0];
  int reader = uses.sole_reader(current);
  if (reader >= 0) {
    const ir::Node& add = g.nodes[reader];
    const int other = add.inputs.size() == 2 ? (add.inputs[0] == current ? add.inputs[1] : add.inputs[0]) : ir::kNoValue;
    const Tensor* bias = f32_constant(g, other);
    const ir::Value& out = g.value(add.outputs.empty() ? current : add.outputs[0]);
    const bool c_ok = c == ir::kNoValue || is_row_bias(f32_constant(g, c), n);
    if (add.op == "Add" && add.domain.empty() && add.outputs.size() == 1 && is_row_bias(bias, n) && c_ok &&
        y.dtype == DType::kF32 && out.shape_known && out.dims == y.dims) {
      Tensor merged(DType::kF32, {n});
      const Tensor* old_c = f32_constant(g, c);
      for (int64_t i = 0; i < n; ++i)
        merged.data<float>()[i] = (old_c ? beta * row_value(*old_c, i) : 0.0f) + row_value(*bias, i);
      const std::string base = node.name.empty() ? "gemm" : node.name;
      current = add.outputs[0];
      absorbed.push_back(reader);
      c = g.add_constant(g.unique_name(base + "_fused_bias"), std::move(merged));
      beta = 1.0f;
      reader = uses.sole_reader(current);
    }
  }
  std::optional<FusedActivation> act;
  if (reader >= 0) act = as_fusable_activation(g, g.nodes[reader]);
  if (act) {
    absorbed.push_back(reader);
    current = g.nodes[reader].outputs[0];
  }
  if (absorbed.empty()) return false;

  ir::Attributes attrs;
  attrs.set("alpha", alpha);
  attrs.set("beta", beta);
  attrs.set("transA", is_gemm ? node.attrs.get_int("transA", 0) : int64_t{0});
  attrs.set("transB", is_gemm ? node.attrs.get_int("transB", 0) : int64_t{0});
  set_activation_attrs(attrs, act.value_or(FusedActivation{}));
  node.op = "FusedGemm";
  node.domain = "kiln";
  node.inputs = {node.inputs[0], node.inputs[1]};
  if (c != ir::kNoValue) node.inputs.push_back(c);
  node.outputs = {current};
  node.attrs = std::move(attrs);
  for (int r : absorbed) empty_node(g.nodes[r]);
  return true;
}

}  // namespace

int fuse_gemm_epilogue(ir::Graph& graph) {
  int fused = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const std::string& op = graph.nodes[n].op;
    if ((op != "Gemm" && op != "MatMul") || !graph.nodes[n].domain.empty()) continue;
    if (try_fuse(graph, compute_uses(graph), static_cast<int>(n))) ++fused;
  }
  erase_emptied_nodes(graph);
  return fused;
}

std::unique_ptr<Pass> make_fuse_gemm_epilogue_pass() {
  return std::make_unique<FunctionPass>("fuse_gemm_epilogue", fuse_gemm_epilogue);
}

}  // namespace kiln::passes
