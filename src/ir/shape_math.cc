// Shape functions of Gemm / FusedGemm, MatMul, ReduceMean and the quantization ops.
#include <algorithm>

#include "ir/shape_functions.h"

namespace kiln::ir {

namespace {

bool compatible(int64_t a, int64_t b) { return a == b || a < 0 || b < 0; }

}  // namespace

void infer_gemm(Graph& g, const Node& n) {
  const Value& a = known_input(g, n, 0);
  const Value& b = known_input(g, n, 1);
  KILN_CHECK(a.dims.size() == 2 && b.dims.size() == 2, "A {} and B {} must be matrices", dims_to_string(a.dims),
             dims_to_string(b.dims));
  const bool ta = n.attrs.get_int("transA", 0) != 0, tb = n.attrs.get_int("transB", 0) != 0;
  const int64_t m = ta ? a.dims[1] : a.dims[0], ka = ta ? a.dims[0] : a.dims[1];
  const int64_t kb = tb ? b.dims[1] : b.dims[0], nn = tb ? b.dims[0] : b.dims[1];
  KILN_CHECK(compatible(ka, kb), "A {} (transA={}) and B {} (transB={}) have different inner dimensions",
             dims_to_string(a.dims), ta, dims_to_string(b.dims), tb);
  const Dims out = {m, nn};
  if (n.has_input(2)) {
    const Value& c = known_input(g, n, 2);
    KILN_CHECK(c.dims.size() <= 2, "C {} must have rank <= 2", dims_to_string(c.dims));
    // C must broadcast to [M, N] without growing it.
    const Dims bc = broadcast_dims(out, c.dims);
    for (size_t i = 0; i < 2; ++i)
      KILN_CHECK(compatible(bc[i], out[i]), "C {} does not broadcast to [{},{}]", dims_to_string(c.dims), m, nn);
  }
  set_output(g, n, 0, a.dtype, out);
}

void infer_matmul(Graph& g, const Node& n) {
  const Value& a = known_input(g, n, 0);
  const Value& b = known_input(g, n, 1);
  KILN_CHECK(!a.dims.empty() && !b.dims.empty(), "MatMul inputs must not be scalars");
  KILN_CHECK(a.dtype == b.dtype, "input dtypes differ: {} and {}", dtype_name(a.dtype), dtype_name(b.dtype));
  // numpy.matmul: 1-D operands gain a dimension that is removed from the result.
  Dims da = a.dims, db = b.dims;
  const bool a_vec = da.size() == 1, b_vec = db.size() == 1;
  if (a_vec) da.insert(da.begin(), 1);
  if (b_vec) db.push_back(1);
  const int64_t k1 = da.back(), k2 = db[db.size() - 2];
  KILN_CHECK(compatible(k1, k2), "inner dimensions differ: {} x {}", dims_to_string(a.dims), dims_to_string(b.dims));
  Dims batch = broadcast_dims(Dims(da.begin(), da.end() - 2), Dims(db.begin(), db.end() - 2));
  if (!a_vec) batch.push_back(da[da.size() - 2]);
  if (!b_vec) batch.push_back(db.back());
  set_output(g, n, 0, a.dtype, batch);
}

void infer_reduce_mean(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  std::vector<int64_t> axes = n.attrs.get_ints("axes");
  // Opset 18 moved axes to an input; accept it when it is constant.
  if (axes.empty()) {
    if (const Tensor* t = constant_input(g, n, 1)) axes = t->to_int64s();
  }
  std::vector<bool> reduced(static_cast<size_t>(rank), axes.empty());
  for (int64_t a : axes) reduced[normalize_axis(a, rank)] = true;
  const bool keep = n.attrs.get_int("keepdims", 1) != 0;
  Dims out;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced[i]) out.push_back(x.dims[i]);
    else if (keep) out.push_back(1);
  }
  set_output(g, n, 0, x.dtype, out);
}

namespace {

// Per-tensor scale is a scalar (or [1]); per-axis scale is [C] along `axis`.
void check_scale(const Graph& g, const Node& n, const Value& x, size_t scale_index) {
  const Value& s = known_input(g, n, scale_index);
  if (s.dims.empty() || (s.dims.size() == 1 && s.dims[0] == 1)) return;
  KILN_CHECK(s.dims.size() == 1, "scale must be a scalar or 1-D, got {}", dims_to_string(s.dims));
  const int64_t axis = normalize_axis(n.attrs.get_int("axis", 1), static_cast<int64_t>(x.dims.size()));
  KILN_CHECK(compatible(s.dims[0], x.dims[axis]), "per-axis scale has {} values but axis {} of input {} has {}",
             s.dims[0], axis, dims_to_string(x.dims), x.dims[axis]);
  if (n.has_input(2)) {
    const Value& z = known_input(g, n, 2);
    KILN_CHECK(z.dims == s.dims, "zero point {} and scale {} differ in shape", dims_to_string(z.dims),
               dims_to_string(s.dims));
  }
}

}  // namespace

void infer_quantize(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  check_scale(g, n, x, 1);
  const DType out = n.has_input(2) ? known_input(g, n, 2).dtype : DType::kU8;
  KILN_CHECK(out == DType::kU8 || out == DType::kI8, "zero point must be uint8 or int8, got {}", dtype_name(out));
  set_output(g, n, 0, out, x.dims);
}

void infer_dequantize(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  check_scale(g, n, x, 1);
  set_output(g, n, 0, known_input(g, n, 1).dtype, x.dims);
}

}  // namespace kiln::ir
