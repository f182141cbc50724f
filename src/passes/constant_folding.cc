// Constant folding.
//
// Two mechanisms work together:
//
// 1. Plain folding. A node whose inputs are all constants runs once through the CPU
//    reference kernels (kiln::cpu::run_node) and its outputs become constants.
//    QuantizeLinear / DequantizeLinear are never folded: a QDQ model's int8 weights must
//    reach the quantization-aware backends as int8 + scale, not as floats.
//
// 2. Shape tensors, tracked symbolically. Exporters compute reshape targets at run time:
//    Shape(x) -> Gather(0) -> Unsqueeze -> Concat(.., [-1]) -> Reshape. With a static
//    input this is plain folding; with a dynamic batch the Shape is not constant. So
//    each small int64 vector computed from shapes is tracked element by element as a
//    SymDim: a known number, or "dimension `axis` of value `v`" (its origin), or opaque.
//    Origins are canonicalized by walking back through ops that preserve the dimension
//    (elementwise ops keep every axis, Conv / pooling / Gemm keep the batch axis, ...),
//    so "dim 0 of the Conv input" and "dim 0 of the Reshape input" compare equal.
//    A vector whose elements are all known becomes a constant. A Reshape whose target
//    is symbolic gets a constant target instead: an element equal to the data's own
//    dimension at the same position becomes 0 (ONNX: copy the input dimension), and a
//    single element still unknown becomes -1 (the product of the other dimensions
//    determines it whenever the original reshape was valid). [N, 1024] from
//    Concat(Gather(Shape(x), 0), [-1]) thus becomes Reshape(x, [0, -1]).
// Dead nodes are removed afterwards.
#include "passes/constant_folding.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "backends/cpu/kernels.h"
#include "ir/shape_inference.h"

namespace kiln::passes {

namespace {

struct SymDim {
  int64_t value = -1;  // >= 0 (or -1 literal when `known`) when known
  bool known = false;
  int origin_value = -1;  // for unknown elements: the value and axis the number comes from
  int origin_axis = -1;   // (origin_value -1: opaque)
  bool same_origin(const SymDim& o) const {
    return !known && !o.known && origin_value >= 0 && origin_value == o.origin_value && origin_axis == o.origin_axis;
  }
};
using SymVector = std::vector<SymDim>;

SymDim known_dim(int64_t v) { return SymDim{v, true, -1, -1}; }

constexpr int64_t kMaxShapeTensor = 64;  // shape vectors are short; anything longer is data
constexpr int64_t kMaxFoldedElements = int64_t{1} << 24;  // larger results are computed at run time

bool is_unary_elementwise(const std::string& op) {
  static const char* ops[] = {"Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Identity", "Cast",
                              "Clip", "BatchNormalization", "LRN", "Softmax", "LogSoftmax", "QuantizeLinear",
                              "DequantizeLinear", "Dropout", "Abs", "Neg", "Exp", "Log", "Sqrt", "Erf", "Elu"};
  for (const char* o : ops) if (op == o) return true;
  return false;
}

class ConstantFolder {
 public:
  explicit ConstantFolder(ir::Graph& g) : g_(g) {
    for (size_t n = 0; n < g_.nodes.size(); ++n)
      for (int o : g_.nodes[n].outputs) producer_[o] = static_cast<int>(n);
  }

  void run() {
    std::vector<bool> folded(g_.nodes.size(), false);
    for (size_t n = 0; n < g_.nodes.size(); ++n) {
      ir::Node& node = g_.nodes[n];
      if (track_shape_tensor(node)) {
        folded[n] = make_constant_if_known(node);
        continue;
      }
      if (node.op == "Reshape") rewrite_reshape_target(node);
      folded[n] = fold_with_kernel(node);
    }
    std::vector<ir::Node> kept;
    for (size_t n = 0; n < g_.nodes.size(); ++n)
      if (!folded[n]) kept.push_back(std::move(g_.nodes[n]));
    g_.nodes = std::move(kept);
    g_.remove_dead_nodes();
  }

 private:
  bool is_constant(int v) const { return v == ir::kNoValue || g_.value(v).constant.has_value(); }

  void set_constant(int v, Tensor t) {
    ir::Value& value = g_.value(v);
    value.dtype = t.dtype();
    value.dims = t.dims();
    value.shape_known = true;
    value.constant = std::move(t);
  }

  bool fold_with_kernel(const ir::Node& node) {
    if (node.op == "QuantizeLinear" || node.op == "DequantizeLinear") return false;
    if (node.inputs.empty() || !cpu::has_kernel(node.op)) return false;
    // Folding trades run time for model size: results beyond kMaxFoldedElements (and
    // outputs whose shape is not yet known) stay computed at run time.
    for (int o : node.outputs) {
      const ir::Value& out = g_.value(o);
      if (!out.shape_known || !is_static(out.dims)) return false;
      int64_t count = 1;
      for (int64_t d : out.dims) {
        if (d != 0 && count > kMaxFoldedElements / d) return false;
        count *= d;
      }
    }
    std::vector<const Tensor*> args;
    for (int i : node.inputs) {
      if (!is_constant(i)) return false;
      args.push_back(i == ir::kNoValue ? nullptr : &*g_.value(i).constant);
    }
    std::vector<Tensor> results;
    try {
      results = cpu::run_node(node, args);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kUnimplemented) return false;  // the kernel lacks this case; run it later
      throw;
    }
    if (results.size() < node.outputs.size()) return false;
    for (size_t k = 0; k < node.outputs.size(); ++k) set_constant(node.outputs[k], std::move(results[k]));
    return true;
  }

  // The symbolic vector of value v: tracked, or built from a small integer constant.
  const SymVector* sym(int v) {
    auto it = sym_.find(v);
    if (it != sym_.end()) return &it->second;
    const ir::Value& value = g_.value(v);
    if (!value.constant || (value.dtype != DType::kI64 && value.dtype != DType::kI32) || value.dims.size() > 1 ||
        value.constant->numel() > kMaxShapeTensor)
      return nullptr;
    SymVector s;
    for (int64_t x : value.constant->to_int64s()) s.push_back(known_dim(x));
    return &(sym_[v] = std::move(s));
  }

  bool small_int_output(const ir::Node& node) const {
    if (node.outputs.size() != 1) return false;
    const ir::Value& out = g_.value(node.outputs[0]);
    return out.shape_known && (out.dtype == DType::kI64 || out.dtype == DType::kI32) && out.dims.size() <= 1;
  }

  // Evaluates shape-computing nodes on symbolic vectors; true when the output is tracked.
  bool track_shape_tensor(const ir::Node& node) {
    if (node.op == "Shape") {
      const ir::Value& x = g_.value(node.inputs.at(0));
      if (!x.shape_known) return false;
      const int64_t r = static_cast<int64_t>(x.dims.size());
      int64_t start = node.attrs.get_int("start", 0), end = node.attrs.get_int("end", r);
      if (start < 0) start += r;
      if (end < 0) end += r;
      start = std::clamp<int64_t>(start, 0, r);
      end = std::clamp<int64_t>(end, 0, r);
      SymVector s;
      for (int64_t a = start; a < end; ++a) {
        if (x.dims[a] >= 0) s.push_back(known_dim(x.dims[a]));
        else {
          auto [v, axis] = canonical_dim(node.inputs[0], a);
          s.push_back(SymDim{-1, false, v, axis});
        }
      }
      sym_[node.outputs.at(0)] = std::move(s);
      return true;
    }
    if (!small_int_output(node)) return false;
    // Small integer vectors (shapes, axes) are evaluated here even when fully constant,
    // so shape arithmetic folds without depending on which kernels exist.
    bool any_tracked = false;
    for (int i : node.inputs)
      if (i != ir::kNoValue && sym(i) != nullptr) any_tracked = true;
    if (!any_tracked) return false;
    std::optional<SymVector> out = evaluate(node);
    if (!out) return false;
    sym_[node.outputs[0]] = std::move(*out);
    return true;
  }

  std::optional<SymVector> evaluate(const ir::Node& node) {
    const std::string& op = node.op;
    const SymVector* a = node.inputs.empty() ? nullptr : sym(node.inputs[0]);
    if (!a) return std::nullopt;
    if (op == "Identity" || op == "Cast" || op == "Squeeze" || op == "Unsqueeze" || op == "Reshape") {
      for (size_t i = 1; i < node.inputs.size(); ++i)
        if (!is_constant(node.inputs[i])) return std::nullopt;
      return *a;
    }
    if (op == "Gather") {
      const SymVector* idx = node.inputs.size() > 1 ? sym(node.inputs[1]) : nullptr;
      if (!idx || node.attrs.get_int("axis", 0) != 0) return std::nullopt;
      SymVector out;
      for (const SymDim& i : *idx) {
        if (!i.known) return std::nullopt;
        int64_t k = i.value < 0 ? i.value + static_cast<int64_t>(a->size()) : i.value;
        if (k < 0 || k >= static_cast<int64_t>(a->size())) return std::nullopt;
        out.push_back((*a)[k]);
      }
      return out;
    }
    if (op == "Concat") {
      SymVector out;
      for (int i : node.inputs) {
        const SymVector* s = i == ir::kNoValue ? nullptr : sym(i);
        if (!s) return std::nullopt;
        out.insert(out.end(), s->begin(), s->end());
      }
      return out;
    }
    if (op == "Slice") {
      std::vector<int64_t> p[4];
      for (size_t k = 1; k < 5 && k < node.inputs.size(); ++k) {
        if (node.inputs[k] == ir::kNoValue) continue;
        const ir::Value& v = g_.value(node.inputs[k]);
        if (!v.constant) return std::nullopt;
        p[k - 1] = v.constant->to_int64s();
      }
      if (p[0].size() != 1 || p[1].size() != 1) return std::nullopt;
      const int64_t step = p[3].empty() ? 1 : p[3][0];
      if (step != 1) return std::nullopt;
      const int64_t d = static_cast<int64_t>(a->size());
      int64_t s = p[0][0] < 0 ? p[0][0] + d : p[0][0], e = p[1][0] < 0 ? p[1][0] + d : p[1][0];
      s = std::clamp<int64_t>(s, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      return SymVector(a->begin() + s, a->begin() + std::max(s, e));
    }
    if (op == "Mul" || op == "Add" || op == "Sub" || op == "Div") {
      const SymVector* b = node.inputs.size() > 1 ? sym(node.inputs[1]) : nullptr;
      if (!b || (a->size() != b->size() && a->size() != 1 && b->size() != 1)) return std::nullopt;
      const size_t n = std::max(a->size(), b->size());
      SymVector out;
      for (size_t i = 0; i < n; ++i) {
        const SymDim& x = (*a)[a->size() == 1 ? 0 : i];
        const SymDim& y = (*b)[b->size() == 1 ? 0 : i];
        if (!x.known || !y.known || (op == "Div" && y.value == 0)) {
          // x*1, x+0 keep their origin; anything else is an opaque run-time number.
          const bool keeps_x = !x.known && y.known && (((op == "Mul" || op == "Div") && y.value == 1) ||
                                                       ((op == "Add" || op == "Sub") && y.value == 0));
          out.push_back(keeps_x ? x : SymDim{});
          continue;
        }
        const int64_t r = op == "Mul" ? x.value * y.value : op == "Add" ? x.value + y.value
                        : op == "Sub" ? x.value - y.value : x.value / y.value;
        out.push_back(known_dim(r));
      }
      return out;
    }
    return std::nullopt;
  }

  bool make_constant_if_known(const ir::Node& node) {
    const int out = node.outputs.at(0);
    const SymVector& s = sym_.at(out);
    for (const SymDim& d : s) if (!d.known) return false;
    const ir::Value& v = g_.value(out);
    if (!v.shape_known || v.dims.size() > 1) return false;
    std::vector<int64_t> values;
    for (const SymDim& d : s) values.push_back(d.value);
    Dims dims = v.dims.empty() ? Dims{} : Dims{static_cast<int64_t>(values.size())};
    if (!v.dims.empty() && v.dims[0] >= 0 && v.dims[0] != static_cast<int64_t>(values.size())) return false;
    if (dims.empty() && values.size() != 1) return false;
    Tensor t = Tensor::from_vector<int64_t>(dims, values);
    set_constant(out, v.dtype == DType::kI32 ? t.cast(DType::kI32) : t);
    return true;
  }

  void rewrite_reshape_target(ir::Node& node) {
    if (node.inputs.size() < 2 || is_constant(node.inputs[1])) return;
    auto it = sym_.find(node.inputs[1]);
    if (it == sym_.end()) return;
    const int data = node.inputs[0];
    const ir::Value& x = g_.value(data);
    if (!x.shape_known) return;
    const bool allow_zero = node.attrs.get_int("allowzero", 0) != 0;
    std::vector<int64_t> target;
    int unresolved_count = 0;
    bool has_minus_one = false;
    for (size_t i = 0; i < it->second.size(); ++i) {
      const SymDim& d = it->second[i];
      if (d.known) {
        if (d.value == 0 && allow_zero == false && i >= x.dims.size()) return;
        has_minus_one = has_minus_one || d.value == -1;
        target.push_back(d.value);
        continue;
      }
      if (!allow_zero && i < x.dims.size() && x.dims[i] < 0 && d.origin_value >= 0) {
        auto [v, axis] = canonical_dim(data, static_cast<int64_t>(i));
        if (d.same_origin(SymDim{-1, false, v, static_cast<int>(axis)})) {
          target.push_back(0);
          continue;
        }
      }
      ++unresolved_count;
      target.push_back(-1);
    }
    if (unresolved_count > 1 || (unresolved_count == 1 && has_minus_one)) return;
    const int c = g_.add_constant(g_.unique_name(node.name + "_shape"),
                                  Tensor::from_vector<int64_t>({static_cast<int64_t>(target.size())}, target));
    node.inputs[1] = c;
  }

  // Where dimension `axis` of value v comes from, following ops that preserve it.
  std::pair<int, int> canonical_dim(int v, int64_t axis) {
    for (int guard = 0; guard < 100000; ++guard) {
      auto it = producer_.find(v);
      if (it == producer_.end()) break;
      const ir::Node& p = g_.nodes[it->second];
      const int64_t rank = static_cast<int64_t>(g_.value(v).dims.size());
      const int in0 = p.inputs.empty() ? ir::kNoValue : p.inputs[0];
      if (in0 == ir::kNoValue || !g_.value(in0).shape_known || p.outputs.at(0) != v) break;
      const ir::Value& x = g_.value(in0);
      const int64_t xr = static_cast<int64_t>(x.dims.size());
      const std::string& op = p.op;
      int next = ir::kNoValue;
      int64_t next_axis = axis;
      if (is_unary_elementwise(op) && xr == rank) {
        next = in0;
      } else if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Sum") && xr == rank &&
                 x.dims[axis] < 0) {
        bool others_static = true;
        for (size_t k = 1; k < p.inputs.size(); ++k) {
          const ir::Value& o = g_.value(p.inputs[k]);
          const int64_t oi = axis - (rank - static_cast<int64_t>(o.dims.size()));
          if (oi >= 0 && o.dims[oi] != 1) others_static = false;
        }
        if (others_static) next = in0;
      } else if (axis == 0 && (op == "Conv" || op == "FusedConv" || op == "MaxPool" || op == "AveragePool" ||
                               op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "Pad")) {
        next = in0;
      } else if (axis == 0 && op == "Flatten" && p.attrs.get_int("axis", 1) == 1) {
        next = in0;
      } else if (axis == 0 && (op == "Gemm" || op == "FusedGemm") && p.attrs.get_int("transA", 0) == 0) {
        next = in0;
      } else if (op == "MatMul" && xr == rank && xr >= 2 && axis < rank - 1) {
        next = in0;
      } else if (op == "Transpose") {
        auto perm = p.attrs.get_ints("perm");
        if (perm.empty()) for (int64_t i = xr - 1; i >= 0; --i) perm.push_back(i);
        if (axis < static_cast<int64_t>(perm.size())) { next = in0; next_axis = perm[axis]; }
      } else if (op == "Reshape" && p.inputs.size() > 1 && is_constant(p.inputs[1]) &&
                 p.attrs.get_int("allowzero", 0) == 0) {
        const auto t = g_.value(p.inputs[1]).constant->to_int64s();
        if (axis < static_cast<int64_t>(t.size()) && t[axis] == 0) next = in0;
      } else if (op == "Concat" && normalize_axis(p.attrs.get_int("axis", 0), rank) != axis) {
        next = in0;
      } else if ((op == "Squeeze" || op == "Unsqueeze" || op == "Slice" || op == "Split" || op == "ReduceMean") &&
                 axis == 0 && xr > 0 && x.dims[0] < 0 && g_.value(v).dims[0] < 0) {
        // These keep a leading dynamic dimension unless they touch axis 0 itself, which
        // would make it static (Squeeze/Unsqueeze/ReduceMean) or change it (Slice):
        // only follow when axis 0 is not among their axes.
        next = touches_axis0(p) ? ir::kNoValue : in0;
      }
      if (next == ir::kNoValue) break;
      v = next;
      axis = next_axis;
    }
    return {v, static_cast<int>(axis)};
  }

  bool touches_axis0(const ir::Node& p) {
    std::vector<int64_t> axes;
    if (p.op == "ReduceMean" || p.op == "Split") {
      if (p.op == "Split") return p.attrs.get_int("axis", 0) == 0;
      axes = p.attrs.get_ints("axes");
      if (axes.empty()) return true;
    } else {
      const int k = p.op == "Slice" ? 3 : 1;
      if (p.op == "Slice" && !(static_cast<int>(p.inputs.size()) > k && p.inputs[k] != ir::kNoValue)) return true;
      if (static_cast<int>(p.inputs.size()) <= k || !is_constant(p.inputs[k]) || p.inputs[k] == ir::kNoValue) return true;
      axes = g_.value(p.inputs[k]).constant->to_int64s();
    }
    for (int64_t a : axes) if (a <= 0) return true;  // negative axes may be axis 0 too
    return false;
  }

  ir::Graph& g_;
  std::unordered_map<int, int> producer_;
  std::unordered_map<int, SymVector> sym_;
};

class ConstantFoldingPass : public Pass {
 public:
  std::string name() const override { return "constant_folding"; }
  void run(ir::Graph& graph) override { fold_constants(graph); }
};

}  // namespace

void fold_constants(ir::Graph& graph) { ConstantFolder(graph).run(); }

std::unique_ptr<Pass> make_constant_folding_pass() { return std::make_unique<ConstantFoldingPass>(); }

}  // namespace kiln::passes
