// Gemm, kiln.FusedGemm (Y = act(alpha * A' * B' + beta * C)) and MatMul with numpy
// batch broadcasting. Float types go through BLAS; integer MatMul uses a plain loop.
#include <type_traits>

#include "backends/cpu/activation.h"
#include "backends/cpu/blas_gemm.h"
#include "backends/cpu/broadcast.h"
#include "backends/cpu/dtype_dispatch.h"
#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

namespace {

Tensor run_gemm(const ir::Node& node, const Inputs& in, const Activation& act) {
  const Tensor& a_in = required(in, 0);
  const Tensor& b_in = required(in, 1);
  require_float(a_in, "Gemm input A");
  KILN_CHECK(b_in.dtype() == a_in.dtype(), "B {} has a different dtype than A {}", b_in.describe(), a_in.describe());
  KILN_CHECK(a_in.rank() == 2 && b_in.rank() == 2, "A {} and B {} must be matrices", a_in.describe(),
             b_in.describe());
  const bool trans_a = node.attrs.get_int("transA", 0) != 0;
  const bool trans_b = node.attrs.get_int("transB", 0) != 0;
  const float alpha = node.attrs.get_float("alpha", 1.f);
  const float beta = node.attrs.get_float("beta", 1.f);
  const int64_t m = trans_a ? a_in.dim(1) : a_in.dim(0);
  const int64_t k = trans_a ? a_in.dim(0) : a_in.dim(1);
  const int64_t kb = trans_b ? b_in.dim(1) : b_in.dim(0);
  const int64_t n = trans_b ? b_in.dim(0) : b_in.dim(1);
  KILN_CHECK(k == kb, "inner dimensions differ: A {} (transA={}) and B {} (transB={})", a_in.describe(), trans_a,
             b_in.describe(), trans_b);
  const Tensor* c_in = optional_input(in, 2);
  if (c_in && c_in->empty()) c_in = nullptr;
  const Dims y_dims = {m, n};
  if (c_in) {
    KILN_CHECK(c_in->dtype() == a_in.dtype(), "C {} has a different dtype than A {}", c_in->describe(),
               a_in.describe());
    bool fits = c_in->rank() <= 2;
    for (int64_t d = 0; fits && d < c_in->rank(); ++d) {
      const int64_t target = y_dims[2 - c_in->rank() + d];
      fits = c_in->dim(d) == 1 || c_in->dim(d) == target;
    }
    KILN_CHECK(fits, "C {} does not broadcast to the output [{},{}]", c_in->describe(), m, n);
  }
  const Tensor a = widen_half(a_in), b = widen_half(b_in);
  Tensor y(a.dtype(), y_dims);
  dispatch_float(a.dtype(), "Gemm", [&](auto tag) {
    using T = decltype(tag);
    T* py = y.data<T>();
    T blas_beta = T(0);
    if (c_in && beta != 0.f) {
      const Tensor c = widen_half(*c_in);
      const T* pc = c.data<T>();
      for_each_broadcast_row(y_dims, {broadcast_strides(c.dims(), y_dims)},
                             [&](int64_t o, const std::vector<int64_t>& off, int64_t len,
                                 const std::vector<int64_t>& st) {
        for (int64_t i = 0; i < len; ++i) py[o + i] = pc[off[0] + i * st[0]];
      });
      blas_beta = static_cast<T>(beta);
    }
    if (m > 0 && n > 0 && k > 0)
      blas_gemm(trans_a, trans_b, m, n, k, static_cast<T>(alpha), a.data<T>(), a.dim(1), b.data<T>(), b.dim(1),
                blas_beta, py, n);
    else if (blas_beta != T(0))
      for (int64_t i = 0; i < m * n; ++i) py[i] *= blas_beta;
    apply_activation(act, py, y.numel());
    return 0;
  });
  return narrow_to(y, a_in.dtype());
}

template <typename T>
void integer_matmul(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k) {
  for (int64_t i = 0; i < m; ++i) {
    T* row = c + i * n;
    for (int64_t j = 0; j < n; ++j) row[j] = T(0);
    for (int64_t p = 0; p < k; ++p) {
      const T av = a[i * k + p];
      const T* brow = b + p * n;
      for (int64_t j = 0; j < n; ++j) row[j] = static_cast<T>(row[j] + av * brow[j]);
    }
  }
}

}  // namespace

Outputs gemm(const ir::Node& n, const Inputs& in) { return {run_gemm(n, in, Activation{})}; }

Outputs fused_gemm(const ir::Node& n, const Inputs& in) {
  return {run_gemm(n, in, activation_from_attrs(n.attrs))};
}

Outputs matmul(const ir::Node& node, const Inputs& in) {
  const Tensor& a_in = required(in, 0);
  const Tensor& b_in = required(in, 1);
  KILN_CHECK(a_in.dtype() == b_in.dtype(), "operands have different dtypes: {} and {}", a_in.describe(),
             b_in.describe());
  KILN_CHECK(a_in.rank() >= 1 && b_in.rank() >= 1, "MatMul operands must have rank >= 1, got {} and {}",
             a_in.describe(), b_in.describe());
  // 1-D operands become matrices ([K] -> [1,K] on the left, [K,1] on the right); the
  // added axis is dropped from the result.
  Dims ad = a_in.dims(), bd = b_in.dims();
  const bool a_vec = ad.size() == 1, b_vec = bd.size() == 1;
  if (a_vec) ad.insert(ad.begin(), 1);
  if (b_vec) bd.push_back(1);
  const int64_t m = ad[ad.size() - 2], k = ad.back(), n = bd.back();
  KILN_CHECK(bd[bd.size() - 2] == k, "inner dimensions differ: {} x {}", a_in.describe(), b_in.describe());
  const Dims a_batch(ad.begin(), ad.end() - 2), b_batch(bd.begin(), bd.end() - 2);
  const Dims batch = broadcast_dims(a_batch, b_batch);
  Dims y_dims = batch;
  if (!a_vec) y_dims.push_back(m);
  if (!b_vec) y_dims.push_back(n);
  const int64_t batches = num_elements(batch);
  const std::vector<int64_t> sa = broadcast_strides(a_batch, batch), sb = broadcast_strides(b_batch, batch);

  const Tensor a = widen_half(a_in), b = widen_half(b_in);
  Tensor y(a.dtype(), y_dims);
  dispatch_numeric(a.dtype(), "MatMul", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    auto one = [&](const T* am, const T* bm, T* ym, int64_t rows) {
      if constexpr (std::is_floating_point_v<T>) {
        if (rows > 0 && n > 0 && k > 0) blas_gemm(false, false, rows, n, k, T(1), am, k, bm, n, T(0), ym, n);
      } else {
        integer_matmul(am, bm, ym, rows, n, k);
      }
    };
    if (num_elements(b_batch) == 1 && a_batch == batch) {
      one(pa, pb, py, batches * m);  // a shared right operand: one tall GEMM
      return 0;
    }
    std::vector<int64_t> index(batch.size(), 0);
    for (int64_t t = 0; t < batches; ++t) {
      int64_t oa = 0, ob = 0;
      for (size_t d = 0; d < batch.size(); ++d) {
        oa += index[d] * sa[d];
        ob += index[d] * sb[d];
      }
      one(pa + oa * m * k, pb + ob * k * n, py + t * m * n, m);
      for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
        if (++index[d] < batch[d]) break;
        index[d] = 0;
      }
    }
    return 0;
  });
  return {narrow_to(y, a_in.dtype())};
}

}  // namespace kiln::cpu
