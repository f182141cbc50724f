#include "quant/qdq_folding.h"

#include <algorithm>
#include <numeric>
#include <optional>
#include <set>

#include "backends/cpu/kernels.h"
#include "core/error.h"

namespace kiln::quant {

namespace {

// The parameters of one QuantizeLinear: its input and the range it can represent.
struct Quantization {
  int x = ir::kNoValue;
  float scale = 1;
  int64_t zero_point = 0;
  DType qtype = DType::kU8;
  const ir::Node* node = nullptr;
  double lo() const { return (static_cast<double>(qtype == DType::kU8 ? 0 : -128) - zero_point) * scale; }
  double hi() const { return (static_cast<double>(qtype == DType::kU8 ? 255 : 127) - zero_point) * scale; }
  bool symmetric() const { return (qtype == DType::kI8 && zero_point == 0) || (qtype == DType::kU8 && zero_point == 128); }
};

// Ops whose output is non-negative when their data inputs are.
const std::set<std::string> kSignPreserving = {"MaxPool", "Reshape", "Transpose", "Split",   "Concat",   "Flatten",
                                               "Squeeze", "Unsqueeze", "Identity", "AveragePool",
                                               "GlobalAveragePool", "GlobalMaxPool", "Slice"};

const Tensor& scalar_constant(const ir::Graph& g, const ir::Node& n, size_t input, const char* what) {
  if (!n.has_input(input) || !g.value(n.inputs[input]).is_constant())
    fail_with(ErrorCode::kUnimplemented, "node \"{}\" ({}): the {} must be a constant to fold Q/DQ", n.name, n.op, what);
  const Tensor& t = *g.value(n.inputs[input]).constant;
  if (t.numel() != 1)
    fail_with(ErrorCode::kUnimplemented,
              "node \"{}\" ({}): per-axis {} on an activation ({} values); only per-tensor activation quantization "
              "folds into INT8 ranges",
              n.name, n.op, what, t.numel());
  return t;
}

Quantization read_quantization(const ir::Graph& g, const ir::Node& q) {
  Quantization out;
  out.node = &q;
  out.x = q.inputs.at(0);
  out.scale = static_cast<float>(scalar_constant(g, q, 1, "scale").to_doubles()[0]);
  if (q.has_input(2)) {
    const Tensor& zp = scalar_constant(g, q, 2, "zero point");
    out.qtype = zp.dtype();
    out.zero_point = zp.to_int64s()[0];
  }
  if (out.qtype != DType::kU8 && out.qtype != DType::kI8)
    fail_with(ErrorCode::kUnimplemented, "node \"{}\" (QuantizeLinear): {} quantization does not fold into INT8",
              q.name, dtype_name(out.qtype));
  if (!(out.scale > 0))
    fail_with(ErrorCode::kInvalidArgument, "node \"{}\" (QuantizeLinear): scale {} is not positive", q.name, out.scale);
  return out;
}

bool same_parameters(const ir::Graph& g, const ir::Node& dq, const Quantization& q) {
  const Quantization d = [&] {
    Quantization r;
    r.scale = static_cast<float>(scalar_constant(g, dq, 1, "scale").to_doubles()[0]);
    r.qtype = q.qtype;
    if (dq.has_input(2)) r.zero_point = scalar_constant(g, dq, 2, "zero point").to_int64s()[0];
    return r;
  }();
  return d.scale == q.scale && d.zero_point == q.zero_point;
}

ir::Node make_node(std::string name, std::string op, std::vector<int> inputs, int output) {
  ir::Node n;
  n.name = std::move(name);
  n.op = std::move(op);
  n.inputs = std::move(inputs);
  n.outputs = {output};
  return n;
}

}  // namespace

QdqFolding fold_qdq(ir::Graph& g) {
  QdqFolding result;
  result.table.calibrator = "qdq";
  std::vector<int> alias(g.values.size());
  std::iota(alias.begin(), alias.end(), 0);
  auto resolve = [&](int v) {
    while (v != ir::kNoValue && alias[static_cast<size_t>(v)] != v) v = alias[static_cast<size_t>(v)];
    return v;
  };
  std::vector<bool> nonnegative(g.values.size(), false);
  std::vector<std::optional<Quantization>> quantized(g.values.size());  // per Q output
  auto raise_threshold = [&](int v, double t) {
    float& slot = result.table.thresholds[g.value(v).name];
    slot = std::max(slot, static_cast<float>(t));
  };

  std::vector<std::vector<int>> readers(g.values.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int in : g.nodes[i].inputs)
      if (in != ir::kNoValue) readers[static_cast<size_t>(in)].push_back(static_cast<int>(i));
  std::vector<ir::Node> nodes = std::move(g.nodes);
  g.nodes.clear();
  for (ir::Node& node : nodes) {
    for (int& in : node.inputs) in = resolve(in);
    bool all_constant = !node.inputs.empty();
    for (int in : node.inputs) all_constant = all_constant && (in == ir::kNoValue || g.value(in).is_constant());

    if (node.op == "DequantizeLinear" && all_constant) {
      std::vector<const Tensor*> inputs;
      for (int in : node.inputs) inputs.push_back(in == ir::kNoValue ? nullptr : &*g.value(in).constant);
      Tensor t = cpu::run_node(node, inputs).at(0);
      ir::Value& out = g.value(node.outputs.at(0));
      out.dtype = t.dtype();
      out.dims = t.dims();
      out.shape_known = true;
      out.constant = std::move(t);
      ++result.constants;
      continue;
    }
    if (node.op == "QuantizeLinear") {
      const Quantization q = read_quantization(g, node);
      const int y = node.outputs.at(0);
      for (int reader : readers[static_cast<size_t>(y)]) {
        const ir::Node& r = nodes[static_cast<size_t>(reader)];
        if (r.op != "DequantizeLinear" || !same_parameters(g, r, q))
          fail_with(ErrorCode::kUnimplemented,
                    "node \"{}\" (QuantizeLinear): its output is read by \"{}\" ({}), not by a DequantizeLinear with "
                    "the same scale and zero point; only Q/DQ pairs fold into INT8 ranges",
                    node.name, r.name, r.op);
      }
      for (int o : g.outputs)
        if (o == y)
          fail_with(ErrorCode::kUnimplemented, "node \"{}\" (QuantizeLinear): quantized graph outputs do not fold",
                    node.name);
      quantized[static_cast<size_t>(y)] = q;
      continue;
    }
    if (node.op == "DequantizeLinear") {
      const int q_out = node.inputs.at(0);
      if (!quantized[static_cast<size_t>(q_out)])
        fail_with(ErrorCode::kUnimplemented,
                  "node \"{}\" (DequantizeLinear): its input is neither a constant nor a QuantizeLinear output",
                  node.name);
      const Quantization& q = *quantized[static_cast<size_t>(q_out)];
      const int x = q.x, y = node.outputs.at(0);
      const double threshold = std::max(-q.lo(), q.hi());
      ++result.pairs;
      if (q.lo() == 0 && nonnegative[static_cast<size_t>(x)]) {
        alias[static_cast<size_t>(y)] = x;
        raise_threshold(x, threshold);
      } else if (q.lo() == 0) {
        g.nodes.push_back(make_node(node.name + ":relu", "Relu", {x}, y));
        nonnegative[static_cast<size_t>(y)] = true;
        raise_threshold(y, threshold);
        ++result.relus;
      } else if (q.symmetric()) {
        alias[static_cast<size_t>(y)] = x;
        raise_threshold(x, threshold);
      } else {
        const int lo = g.add_constant(node.name + ":clip_min", Tensor::from_vector<float>({}, {static_cast<float>(q.lo())}));
        const int hi = g.add_constant(node.name + ":clip_max", Tensor::from_vector<float>({}, {static_cast<float>(q.hi())}));
        alias.push_back(lo);
        alias.push_back(hi);
        nonnegative.resize(g.values.size(), false);
        quantized.resize(g.values.size());
        g.nodes.push_back(make_node(node.name + ":clip", "Clip", {x, lo, hi}, y));
        raise_threshold(y, threshold);
        ++result.clips;
      }
      continue;
    }
    bool data_nonnegative = !node.inputs.empty();
    const size_t data_inputs = node.op == "Concat" ? node.inputs.size() : 1;
    for (size_t i = 0; i < data_inputs && i < node.inputs.size(); ++i)
      data_nonnegative = data_nonnegative && node.inputs[i] != ir::kNoValue && nonnegative[static_cast<size_t>(node.inputs[i])];
    const bool out_nonnegative = node.op == "Relu" || (kSignPreserving.count(node.op) && data_nonnegative);
    for (int o : node.outputs) nonnegative[static_cast<size_t>(o)] = out_nonnegative;
    g.nodes.push_back(std::move(node));
  }
  for (int& o : g.outputs) o = resolve(o);
  result.table.graph_fingerprint = graph_fingerprint(g);
  return result;
}

}  // namespace kiln::quant
