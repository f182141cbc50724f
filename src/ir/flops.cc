#include "ir/flops.h"

#include <optional>
#include <set>

#include "ir/shape_inference.h"

namespace kiln::ir {

namespace {

// Dims of input i if it is present and fully static.
std::optional<Dims> static_dims(const Graph& g, const Node& n, size_t i) {
  if (!n.has_input(i)) return std::nullopt;
  const Value& v = g.value(n.inputs[i]);
  if (!v.shape_known && !v.is_constant()) return std::nullopt;
  const Dims& d = v.is_constant() ? v.constant->dims() : v.dims;
  if (!is_static(d)) return std::nullopt;
  return d;
}

std::optional<Dims> static_output(const Graph& g, const Node& n) {
  if (n.outputs.empty()) return std::nullopt;
  const Value& v = g.value(n.outputs[0]);
  if (!v.shape_known || !is_static(v.dims)) return std::nullopt;
  return v.dims;
}

int64_t product(const Dims& d, size_t from) {
  int64_t p = 1;
  for (size_t i = from; i < d.size(); ++i) p *= d[i];
  return p;
}

// Multiply-adds of a convolution: every output element reads C/group x kernel inputs.
// W is [M, C/group, k...], so the per-output work is product(W.dims[1:]).
std::optional<int64_t> conv_macs(const Graph& g, const Node& n, size_t w_index) {
  auto y = static_output(g, n);
  auto w = static_dims(g, n, w_index);
  if (!y || !w || w->size() < 2) return std::nullopt;
  return num_elements(*y) * product(*w, 1);
}

// ConvTranspose scatters each input element into (M/group) x kernel outputs; W is
// [C, M/group, k...].
std::optional<int64_t> conv_transpose_macs(const Graph& g, const Node& n) {
  auto x = static_dims(g, n, 0);
  auto w = static_dims(g, n, 1);
  if (!x || !w || w->size() < 2) return std::nullopt;
  return num_elements(*x) * product(*w, 1);
}

// Y = A' x B': each of the M x N outputs is a K-long dot product.
std::optional<int64_t> gemm_macs(const Graph& g, const Node& n) {
  auto y = static_output(g, n);
  auto a = static_dims(g, n, 0);
  if (!y || !a || a->size() != 2) return std::nullopt;
  const int64_t k = n.attrs.get_int("transA", 0) ? (*a)[0] : (*a)[1];
  return num_elements(*y) * k;
}

// Batched matmul: every output element is a dot product over A's last dimension.
std::optional<int64_t> matmul_macs(const Graph& g, const Node& n, size_t a_index) {
  auto y = static_output(g, n);
  auto a = static_dims(g, n, a_index);
  if (!y || !a || a->empty()) return std::nullopt;
  return num_elements(*y) * a->back();
}

// std::nullopt: not a counted op. A set optional holding nullopt: counted op, unknown shapes.
std::optional<std::optional<int64_t>> node_macs(const Graph& g, const Node& n) {
  const bool kiln = n.domain == "kiln";
  if (n.op == "Conv" || (kiln && n.op == "FusedConv") || n.op == "ConvInteger") return conv_macs(g, n, 1);
  if (n.op == "QLinearConv") return conv_macs(g, n, 3);
  if (n.op == "ConvTranspose") return conv_transpose_macs(g, n);
  if (n.op == "Gemm" || (kiln && n.op == "FusedGemm")) return gemm_macs(g, n);
  if (n.op == "MatMul" || n.op == "MatMulInteger") return matmul_macs(g, n, 0);
  if (n.op == "QLinearMatMul") return matmul_macs(g, n, 0);
  return std::nullopt;
}

}  // namespace

FlopCount count_flops(const Graph& graph) {
  FlopCount count;
  for (const Node& n : graph.nodes) {
    auto macs = node_macs(graph, n);
    if (!macs) continue;
    if (!*macs) {
      ++count.uncounted_nodes;
      continue;
    }
    const std::string key = n.domain.empty() ? n.op : n.domain + "." + n.op;
    count.by_op[key] += 2 * **macs;
    count.total += 2 * **macs;
  }
  return count;
}

FlopCount count_flops_per_image(const Graph& graph) {
  bool dynamic_batch = false;
  for (int v : graph.inputs) {
    const Value& value = graph.value(v);
    dynamic_batch = dynamic_batch || (!value.dims.empty() && value.dims[0] < 0);
  }
  if (!dynamic_batch) return count_flops(graph);
  Graph one = graph;
  for (int v : one.inputs) {
    Value& value = one.value(v);
    if (!value.dims.empty() && value.dims[0] < 0) value.dims[0] = 1;
  }
  try {
    infer_shapes(one);
  } catch (const Error&) {
    // Shapes that only resolve at run time: count what the original shapes allow.
    return count_flops(graph);
  }
  return count_flops(one);
}

int64_t count_parameters(const Graph& graph) {
  std::set<int> seen;
  int64_t total = 0;
  for (const Node& n : graph.nodes) {
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int i = n.inputs[k];
      // BatchNormalization's running mean and variance are statistics, not trained weights.
      if (n.op == "BatchNormalization" && k >= 3) continue;
      if (i == kNoValue || !seen.insert(i).second) continue;
      const Value& v = graph.value(i);
      if (!v.is_constant()) continue;
      const DType t = v.constant->dtype();
      // Scalars are scales, epsilons and the like; quantized biases are int32 fed to a
      // DequantizeLinear.
      if (v.constant->rank() == 0) continue;
      const bool quantized_bias = t == DType::kI32 && n.op == "DequantizeLinear" && n.inputs[0] == i;
      if (is_float(t) || t == DType::kI8 || t == DType::kU8 || quantized_bias) total += v.constant->numel();
    }
  }
  return total;
}

}  // namespace kiln::ir
