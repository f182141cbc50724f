// Add, Sub, Mul, Div and Sum with numpy broadcasting, for float and integer types.
#include <type_traits>

#include "backends/cpu/broadcast.h"
#include "backends/cpu/dtype_dispatch.h"
#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

namespace {

enum class BinaryOp { kAdd, kSub, kMul, kDiv };

template <typename T>
T apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::kAdd: return static_cast<T>(a + b);
    case BinaryOp::kSub: return static_cast<T>(a - b);
    case BinaryOp::kMul: return static_cast<T>(a * b);
    case BinaryOp::kDiv: return static_cast<T>(a / b);
  }
  return T{};
}

// The op is a template parameter so each inner loop is a tight, vectorizable loop.
template <typename T, BinaryOp kOp>
void run_rows(const T* pa, const T* pb, T* py, const Dims& out, const Dims& da, const Dims& db) {
  for_each_broadcast_row(out, {broadcast_strides(da, out), broadcast_strides(db, out)},
                         [&](int64_t o, const std::vector<int64_t>& off, int64_t n, const std::vector<int64_t>& st) {
    const T* x = pa + off[0];
    const T* z = pb + off[1];
    T* dst = py + o;
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) dst[i] = apply(kOp, x[i], z[i]);
    } else if (st[0] == 1 && st[1] == 0) {
      const T c = z[0];
      for (int64_t i = 0; i < n; ++i) dst[i] = apply(kOp, x[i], c);
    } else if (st[0] == 0 && st[1] == 1) {
      const T c = x[0];
      for (int64_t i = 0; i < n; ++i) dst[i] = apply(kOp, c, z[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) dst[i] = apply(kOp, x[i * st[0]], z[i * st[1]]);
    }
  });
}

template <typename T>
void check_integer_divisor(BinaryOp op, const Tensor& b) {
  if constexpr (std::is_integral_v<T>) {
    if (op != BinaryOp::kDiv) return;
    for (T v : b.span<T>())
      if (v == 0) fail("integer division by zero (divisor {})", b.describe());
  }
}

Tensor binary(BinaryOp op, const Tensor& a_in, const Tensor& b_in) {
  if (a_in.dtype() != b_in.dtype())
    fail("operands have different dtypes: {} and {}", a_in.describe(), b_in.describe());
  const DType original = a_in.dtype();
  const Tensor a = widen_half(a_in), b = widen_half(b_in);
  const Dims out = broadcast_dims(a.dims(), b.dims());
  return narrow_to(dispatch_numeric(a.dtype(), "arithmetic", [&](auto tag) {
    using T = decltype(tag);
    check_integer_divisor<T>(op, b);
    Tensor y(a.dtype(), out);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    switch (op) {
      case BinaryOp::kAdd: run_rows<T, BinaryOp::kAdd>(pa, pb, py, out, a.dims(), b.dims()); break;
      case BinaryOp::kSub: run_rows<T, BinaryOp::kSub>(pa, pb, py, out, a.dims(), b.dims()); break;
      case BinaryOp::kMul: run_rows<T, BinaryOp::kMul>(pa, pb, py, out, a.dims(), b.dims()); break;
      case BinaryOp::kDiv: run_rows<T, BinaryOp::kDiv>(pa, pb, py, out, a.dims(), b.dims()); break;
    }
    return y;
  }), original);
}

}  // namespace

Outputs add(const ir::Node& n, const Inputs& in) { return {binary(BinaryOp::kAdd, required(in, 0), required(in, 1))}; }
Outputs sub(const ir::Node& n, const Inputs& in) { return {binary(BinaryOp::kSub, required(in, 0), required(in, 1))}; }
Outputs mul(const ir::Node& n, const Inputs& in) { return {binary(BinaryOp::kMul, required(in, 0), required(in, 1))}; }
Outputs div(const ir::Node& n, const Inputs& in) { return {binary(BinaryOp::kDiv, required(in, 0), required(in, 1))}; }

Outputs sum(const ir::Node& n, const Inputs& in) {
  KILN_CHECK(!in.empty(), "Sum needs at least one input");
  Tensor acc = required(in, 0).clone();
  for (size_t i = 1; i < in.size(); ++i) acc = binary(BinaryOp::kAdd, acc, required(in, i));
  return {acc};
}

}  // namespace kiln::cpu
