// Shape functions of elementwise ops: unary activations, broadcasting arithmetic,
// Softmax, Cast and Clip; plus the helpers every shape function shares.
#include "ir/shape_functions.h"
#include "ir/onnx_dtype.h"

namespace kiln::ir {

const Value& known_input(const Graph& g, const Node& n, size_t i) {
  const Value& v = in(g, n, i);
  KILN_CHECK(v.shape_known, "the shape of input {} (\"{}\") is not known", i, v.name);
  return v;
}

const Tensor* constant_input(const Graph& g, const Node& n, size_t i) {
  if (!n.has_input(i)) return nullptr;
  const Value& v = g.value(n.inputs[i]);
  return v.constant ? &*v.constant : nullptr;
}

DType dtype_from_onnx_enum(int64_t t) {
  const DType d = dtype_from_onnx_code(t);
  if (d == DType::kUndefined) fail_with(ErrorCode::kUnimplemented, "ONNX data type {} is not supported", t);
  return d;
}

void infer_identity(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  set_output(g, n, 0, x.dtype, x.dims);
}

void infer_unary(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  set_output(g, n, 0, x.dtype, x.dims);
}

void infer_clip(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  for (size_t i = 1; i < 3; ++i) {
    if (!n.has_input(i)) continue;
    const Value& bound = known_input(g, n, i);
    KILN_CHECK(bound.dims.empty() || (bound.dims.size() == 1 && bound.dims[0] == 1),
               "{} must be a scalar, got shape {}", i == 1 ? "min" : "max", dims_to_string(bound.dims));
    KILN_CHECK(bound.dtype == x.dtype, "{} is {} but the input is {}", i == 1 ? "min" : "max",
               dtype_name(bound.dtype), dtype_name(x.dtype));
  }
  set_output(g, n, 0, x.dtype, x.dims);
}

void infer_binary(Graph& g, const Node& n) {
  const Value& a = known_input(g, n, 0);
  const Value& b = known_input(g, n, 1);
  KILN_CHECK(a.dtype == b.dtype, "input dtypes differ: {} and {}", dtype_name(a.dtype), dtype_name(b.dtype));
  set_output(g, n, 0, a.dtype, broadcast_dims(a.dims, b.dims));
}

void infer_variadic_broadcast(Graph& g, const Node& n) {
  KILN_CHECK(!n.inputs.empty(), "needs at least one input");
  const Value& first = known_input(g, n, 0);
  Dims dims = first.dims;
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    const Value& v = known_input(g, n, i);
    KILN_CHECK(v.dtype == first.dtype, "input {} is {} but input 0 is {}", i, dtype_name(v.dtype),
               dtype_name(first.dtype));
    dims = broadcast_dims(dims, v.dims);
  }
  set_output(g, n, 0, first.dtype, dims);
}

void infer_softmax(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  normalize_axis(n.attrs.get_int("axis", -1), static_cast<int64_t>(x.dims.size()));
  set_output(g, n, 0, x.dtype, x.dims);
}

void infer_cast(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  set_output(g, n, 0, dtype_from_onnx_enum(n.attrs.require_int("to")), x.dims);
}

}  // namespace kiln::ir
