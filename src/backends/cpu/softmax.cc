// Softmax and LogSoftmax along one axis (opset-13 semantics: the other axes are independent).
#include <cmath>

#include "backends/cpu/dtype_dispatch.h"
#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

namespace {

Tensor softmax_along(const ir::Node& node, const Tensor& x_in, bool log) {
  require_float(x_in, "the input");
  const Tensor x = widen_half(x_in);
  Tensor y(x.dtype(), x.dims());
  if (x.rank() == 0) fail("input must have rank >= 1, got {}", x_in.describe());
  const int64_t axis = normalize_axis(node.attrs.get_int("axis", -1), x.rank());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const int64_t len = x.dim(axis);
  dispatch_float(x.dtype(), "Softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const T* src = px + o * len * inner + i;
        T* dst = py + o * len * inner + i;
        T max = len > 0 ? src[0] : T(0);
        for (int64_t k = 1; k < len; ++k) max = src[k * inner] > max ? src[k * inner] : max;
        T total = T(0);
        for (int64_t k = 0; k < len; ++k) total += std::exp(src[k * inner] - max);
        if (log) {
          const T log_total = std::log(total);
          for (int64_t k = 0; k < len; ++k) dst[k * inner] = src[k * inner] - max - log_total;
        } else {
          for (int64_t k = 0; k < len; ++k) dst[k * inner] = std::exp(src[k * inner] - max) / total;
        }
      }
    }
    return 0;
  });
  return narrow_to(y, x_in.dtype());
}

}  // namespace

Outputs softmax(const ir::Node& n, const Inputs& in) { return {softmax_along(n, required(in, 0), false)}; }
Outputs log_softmax(const ir::Node& n, const Inputs& in) { return {softmax_along(n, required(in, 0), true)}; }

}  // namespace kiln::cpu
