// BatchNormalization (inference form) and LRN (cross-channel local response normalization).
#include <cmath>

#include "backends/cpu/dtype_dispatch.h"
#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

Outputs batch_normalization(const ir::Node& node, const Inputs& in) {
  const Tensor& x_in = required(in, 0);
  require_float(x_in, "the input");
  if (node.attrs.get_int("training_mode", 0) != 0)
    fail_with(ErrorCode::kUnimplemented, "BatchNormalization with training_mode=1 is not supported (inference only)");
  KILN_CHECK(x_in.rank() >= 2, "input must be [N, C, ...], got {}", x_in.describe());
  const int64_t channels = x_in.dim(1);
  const char* names[] = {"scale", "B", "input_mean", "input_var"};
  std::vector<std::vector<double>> params;
  for (size_t i = 1; i <= 4; ++i) {
    const Tensor& p = required(in, i);
    KILN_CHECK(p.numel() == channels && is_float(p.dtype()), "{} must hold {} floats (one per channel), got {}",
               names[i - 1], channels, p.describe());
    params.push_back(p.to_doubles());
  }
  const double epsilon = node.attrs.get_float("epsilon", 1e-5f);
  const Tensor x = widen_half(x_in);
  Tensor y(x.dtype(), x.dims());
  const int64_t batch = x.dim(0);
  const int64_t inner = channels == 0 || batch == 0 ? 0 : x.numel() / (batch * channels);
  dispatch_float(x.dtype(), "BatchNormalization", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t c = 0; c < channels; ++c) {
      // y = x * a + b with a = scale / sqrt(var + eps), b = B - mean * a.
      const double a = params[0][c] / std::sqrt(params[3][c] + epsilon);
      const T ta = static_cast<T>(a), tb = static_cast<T>(params[1][c] - params[2][c] * a);
      for (int64_t n = 0; n < batch; ++n) {
        const int64_t base = (n * channels + c) * inner;
        for (int64_t i = 0; i < inner; ++i) py[base + i] = px[base + i] * ta + tb;
      }
    }
    return 0;
  });
  return {narrow_to(y, x_in.dtype())};
}

Outputs lrn(const ir::Node& node, const Inputs& in) {
  const Tensor& x_in = required(in, 0);
  require_float(x_in, "the input");
  KILN_CHECK(x_in.rank() >= 3, "input must be [N, C, spatial...], got {}", x_in.describe());
  const int64_t size = node.attrs.require_int("size");
  KILN_CHECK(size >= 1, "size must be positive, got {}", size);
  const double alpha = node.attrs.get_float("alpha", 1e-4f);
  const double beta = node.attrs.get_float("beta", 0.75f);
  const double bias = node.attrs.get_float("bias", 1.f);
  const Tensor x = widen_half(x_in);
  Tensor y(x.dtype(), x.dims());
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t inner = channels == 0 || batch == 0 ? 0 : x.numel() / (batch * channels);
  // The window over channels is [c - floor((size-1)/2), c + ceil((size-1)/2)].
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  dispatch_float(x.dtype(), "LRN", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t lo = std::max<int64_t>(0, c - before), hi = std::min<int64_t>(channels - 1, c + after);
        for (int64_t i = 0; i < inner; ++i) {
          double square_sum = 0;
          for (int64_t k = lo; k <= hi; ++k) {
            const double v = px[(n * channels + k) * inner + i];
            square_sum += v * v;
          }
          const int64_t at = (n * channels + c) * inner + i;
          py[at] = static_cast<T>(px[at] / std::pow(bias + alpha / static_cast<double>(size) * square_sum, beta));
        }
      }
    }
    return 0;
  });
  return {narrow_to(y, x_in.dtype())};
}

}  // namespace kiln::cpu
