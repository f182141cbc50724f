// Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, and the activation
// epilogue of the fused ops.
#include "backends/cpu/activation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/cpu/dtype_dispatch.h"
#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

Activation activation_from_attrs(const ir::Attributes& attrs) {
  const std::string name = attrs.get_string("activation", "none");
  Activation a;
  if (name == "none" || name.empty()) {
    a.kind = ActivationKind::kNone;
  } else if (name == "relu") {
    a.kind = ActivationKind::kRelu;
  } else if (name == "clip") {
    a = {ActivationKind::kClip, attrs.get_float("act_alpha", -std::numeric_limits<float>::infinity()),
         attrs.get_float("act_beta", std::numeric_limits<float>::infinity())};
  } else if (name == "leaky_relu") {
    a = {ActivationKind::kLeakyRelu, attrs.get_float("act_alpha", 0.01f), 0.f};
  } else if (name == "sigmoid") {
    a.kind = ActivationKind::kSigmoid;
  } else if (name == "hard_sigmoid") {
    a = {ActivationKind::kHardSigmoid, attrs.get_float("act_alpha", 0.2f), attrs.get_float("act_beta", 0.5f)};
  } else if (name == "hard_swish") {
    a.kind = ActivationKind::kHardSwish;
  } else if (name == "tanh") {
    a.kind = ActivationKind::kTanh;
  } else {
    fail_with(ErrorCode::kUnimplemented,
              "unknown activation \"{}\" (expected none, relu, clip, leaky_relu, sigmoid, hard_sigmoid, hard_swish)",
              name);
  }
  return a;
}

template <typename T>
void apply_activation(const Activation& act, T* x, int64_t n) {
  const T alpha = static_cast<T>(act.alpha), beta = static_cast<T>(act.beta);
  switch (act.kind) {
    case ActivationKind::kNone: return;
    case ActivationKind::kRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > T(0) ? x[i] : T(0);
      return;
    case ActivationKind::kClip:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] < alpha ? alpha : (x[i] > beta ? beta : x[i]);
      return;
    case ActivationKind::kLeakyRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= T(0) ? x[i] : x[i] * alpha;
      return;
    case ActivationKind::kSigmoid:
      // The two-sided form never overflows exp().
      for (int64_t i = 0; i < n; ++i) {
        if (x[i] >= T(0)) {
          x[i] = T(1) / (T(1) + std::exp(-x[i]));
        } else {
          const T e = std::exp(x[i]);
          x[i] = e / (T(1) + e);
        }
      }
      return;
    case ActivationKind::kHardSigmoid:
      for (int64_t i = 0; i < n; ++i) x[i] = std::max(T(0), std::min(T(1), alpha * x[i] + beta));
      return;
    case ActivationKind::kHardSwish:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] * std::max(T(0), std::min(T(1), x[i] / T(6) + T(0.5)));
      return;
    case ActivationKind::kTanh:
      for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      return;
  }
}

template void apply_activation<float>(const Activation&, float*, int64_t);
template void apply_activation<double>(const Activation&, double*, int64_t);

namespace {

Tensor run_float_activation(const Tensor& x_in, const Activation& act) {
  require_float(x_in, "the input");
  Tensor y = widen_half(x_in).clone();
  dispatch_float(y.dtype(), "this activation", [&](auto tag) {
    using T = decltype(tag);
    apply_activation(act, y.data<T>(), y.numel());
    return 0;
  });
  return narrow_to(y, x_in.dtype());
}

// Relu and Clip also accept integer tensors (opset 14 / 12).
template <typename T>
void clamp_range(T* x, int64_t n, T lo, T hi) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
}

}  // namespace

Outputs relu(const ir::Node& n, const Inputs& in) {
  const Tensor& x = required(in, 0);
  Tensor y = widen_half(x).clone();
  dispatch_numeric(y.dtype(), "Relu", [&](auto tag) {
    using T = decltype(tag);
    clamp_range<T>(y.data<T>(), y.numel(), T(0), std::numeric_limits<T>::max());
    return 0;
  });
  return {narrow_to(y, x.dtype())};
}

Outputs clip(const ir::Node& n, const Inputs& in) {
  const Tensor& x = required(in, 0);
  Tensor y = widen_half(x).clone();
  dispatch_numeric(y.dtype(), "Clip", [&](auto tag) {
    using T = decltype(tag);
    T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
    if constexpr (std::is_floating_point_v<T>) {  // opset < 11 kept min/max as attributes
      if (n.attrs.has("min")) lo = static_cast<T>(n.attrs.get_float("min", 0.f));
      if (n.attrs.has("max")) hi = static_cast<T>(n.attrs.get_float("max", 0.f));
    }
    for (size_t k : {size_t{1}, size_t{2}}) {
      const Tensor* bound = optional_input(in, k);
      if (!bound || bound->empty()) continue;
      KILN_CHECK(bound->numel() == 1, "Clip {} must be a scalar, got {}", k == 1 ? "min" : "max", bound->describe());
      KILN_CHECK(bound->dtype() == x.dtype(), "Clip {} has dtype {} but the input is {}", k == 1 ? "min" : "max",
                 dtype_name(bound->dtype()), dtype_name(x.dtype()));
      const T v = static_cast<T>(bound->to_doubles()[0]);
      (k == 1 ? lo : hi) = v;
    }
    clamp_range<T>(y.data<T>(), y.numel(), lo, hi);
    return 0;
  });
  return {narrow_to(y, x.dtype())};
}

Outputs leaky_relu(const ir::Node& n, const Inputs& in) {
  return {run_float_activation(required(in, 0), {ActivationKind::kLeakyRelu, n.attrs.get_float("alpha", 0.01f), 0.f})};
}
Outputs sigmoid(const ir::Node& n, const Inputs& in) {
  return {run_float_activation(required(in, 0), {ActivationKind::kSigmoid})};
}
Outputs hard_sigmoid(const ir::Node& n, const Inputs& in) {
  return {run_float_activation(required(in, 0), {ActivationKind::kHardSigmoid, n.attrs.get_float("alpha", 0.2f),
                                                 n.attrs.get_float("beta", 0.5f)})};
}
Outputs hard_swish(const ir::Node& n, const Inputs& in) {
  return {run_float_activation(required(in, 0), {ActivationKind::kHardSwish})};
}
Outputs tanh_op(const ir::Node& n, const Inputs& in) {
  return {run_float_activation(required(in, 0), {ActivationKind::kTanh})};
}

}  // namespace kiln::cpu
