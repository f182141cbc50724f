// Shape functions of convolution, pooling and BatchNormalization.
#include <algorithm>

#include "ir/shape_functions.h"

namespace kiln::ir {

namespace {

std::vector<int64_t> kernel_of(const Node& n, const Dims& x, const Dims* w) {
  const size_t k = x.size() - 2;
  std::vector<int64_t> kernel = n.attrs.get_ints("kernel_shape");
  if (kernel.empty()) {
    KILN_CHECK(w != nullptr, "kernel_shape is required");
    kernel.assign(w->begin() + 2, w->end());
  }
  KILN_CHECK(kernel.size() == k, "kernel_shape has {} values for {} spatial dimensions", kernel.size(), k);
  if (w != nullptr && w->size() == k + 2) {
    for (size_t i = 0; i < k; ++i)
      KILN_CHECK((*w)[2 + i] < 0 || (*w)[2 + i] == kernel[i], "kernel_shape {} does not match weight {}",
                 dims_to_string(kernel), dims_to_string(*w));
  }
  for (int64_t v : kernel) KILN_CHECK(v > 0, "kernel_shape must be positive");
  return kernel;
}

std::vector<int64_t> per_axis(const Node& n, const char* name, size_t k) {
  std::vector<int64_t> v = n.attrs.get_ints(name, std::vector<int64_t>(k, 1));
  KILN_CHECK(v.size() == k, "{} has {} values for {} spatial dimensions", name, v.size(), k);
  for (int64_t s : v) KILN_CHECK(s > 0, "{} must be positive", name);
  return v;
}

// Output spatial dims; shared by Conv and the pools (ceil_mode is pooling only).
Dims spatial_out(const Node& n, const Dims& x, const Dims* w, bool ceil_mode) {
  const size_t k = x.size() - 2;
  const auto kernel = kernel_of(n, x, w);
  const auto strides = per_axis(n, "strides", k);
  const auto dilations = per_axis(n, "dilations", k);
  const auto pads = explicit_pads(n, x, w);
  Dims out;
  for (size_t i = 0; i < k; ++i) {
    const int64_t in = x[2 + i];
    if (in < 0 || pads[i] < 0) { out.push_back(kDynamic); continue; }
    const int64_t span = (kernel[i] - 1) * dilations[i] + 1;
    const int64_t padded = in + pads[i] + pads[k + i];
    KILN_CHECK(padded >= span, "kernel of extent {} does not fit spatial dimension {} of input {} (padded {})", span,
               i, dims_to_string(x), padded);
    int64_t o = ceil_mode ? (padded - span + strides[i] - 1) / strides[i] + 1 : (padded - span) / strides[i] + 1;
    // A last window that starts inside the end padding is dropped (as in PyTorch and ONNX Runtime).
    if (ceil_mode && (o - 1) * strides[i] >= in + pads[i]) --o;
    out.push_back(o);
  }
  return out;
}

}  // namespace

std::vector<int64_t> explicit_pads(const Node& n, const Dims& x, const Dims* w) {
  KILN_CHECK(x.size() >= 3, "input must have rank >= 3 (N, C, spatial...), got {}", dims_to_string(x));
  const size_t k = x.size() - 2;
  const std::string mode = n.attrs.get_string("auto_pad", "NOTSET");
  if (mode == "NOTSET") {
    std::vector<int64_t> pads = n.attrs.get_ints("pads", std::vector<int64_t>(2 * k, 0));
    KILN_CHECK(pads.size() == 2 * k, "pads has {} values, expected {}", pads.size(), 2 * k);
    for (int64_t p : pads) KILN_CHECK(p >= 0, "pads must not be negative");
    return pads;
  }
  if (mode == "VALID") return std::vector<int64_t>(2 * k, 0);
  KILN_CHECK(mode == "SAME_UPPER" || mode == "SAME_LOWER", "unsupported auto_pad \"{}\"", mode);
  const auto kernel = kernel_of(n, x, w);
  const auto strides = per_axis(n, "strides", k);
  const auto dilations = per_axis(n, "dilations", k);
  std::vector<int64_t> pads(2 * k, 0);
  for (size_t i = 0; i < k; ++i) {
    const int64_t in = x[2 + i];
    if (in < 0) { pads[i] = pads[k + i] = -1; continue; }
    const int64_t out = (in + strides[i] - 1) / strides[i];
    const int64_t span = (kernel[i] - 1) * dilations[i] + 1;
    const int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + span - in);
    // SAME_UPPER puts the odd padding at the end, SAME_LOWER at the beginning.
    const int64_t begin = mode == "SAME_UPPER" ? total / 2 : total - total / 2;
    pads[i] = begin;
    pads[k + i] = total - begin;
  }
  return pads;
}

void infer_conv(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  const Value& w = known_input(g, n, 1);
  KILN_CHECK(x.dims.size() >= 3, "input must have rank >= 3, got {}", dims_to_string(x.dims));
  KILN_CHECK(w.dims.size() == x.dims.size(), "weight {} and input {} differ in rank", dims_to_string(w.dims),
             dims_to_string(x.dims));
  KILN_CHECK(w.dtype == x.dtype || x.dtype == DType::kU8 || x.dtype == DType::kI8,
             "weight is {} but the input is {}", dtype_name(w.dtype), dtype_name(x.dtype));
  const int64_t group = n.attrs.get_int("group", 1);
  KILN_CHECK(group >= 1, "group must be positive, got {}", group);
  const int64_t m = w.dims[0];
  if (x.dims[1] >= 0 && w.dims[1] >= 0)
    KILN_CHECK(x.dims[1] == w.dims[1] * group,
               "weight {} with group {} expects {} input channels but the input {} has {}", dims_to_string(w.dims),
               group, w.dims[1] * group, dims_to_string(x.dims), x.dims[1]);
  if (m >= 0) KILN_CHECK(m % group == 0, "{} output channels do not divide into {} groups", m, group);
  if (n.has_input(2)) {
    const Value& b = known_input(g, n, 2);
    KILN_CHECK(b.dims.size() == 1 && (b.dims[0] == m || b.dims[0] < 0 || m < 0),
               "bias must have shape [{}], got {}", m, dims_to_string(b.dims));
  }
  Dims out = {x.dims[0], m};
  for (int64_t d : spatial_out(n, x.dims, &w.dims, false)) out.push_back(d);
  if (n.op == "FusedConv" && n.has_input(3)) {
    const Value& z = known_input(g, n, 3);
    KILN_CHECK(z.dims.size() == out.size(), "residual {} does not match output {}", dims_to_string(z.dims),
               dims_to_string(out));
    for (size_t i = 0; i < out.size(); ++i)
      KILN_CHECK(z.dims[i] == out[i] || z.dims[i] < 0 || out[i] < 0, "residual {} does not match output {}",
                 dims_to_string(z.dims), dims_to_string(out));
  }
  set_output(g, n, 0, x.dtype == DType::kU8 || x.dtype == DType::kI8 ? w.dtype : x.dtype, out);
}

void infer_pool(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  KILN_CHECK(x.dims.size() >= 3, "input must have rank >= 3, got {}", dims_to_string(x.dims));
  KILN_CHECK(n.attrs.has("kernel_shape"), "kernel_shape is required");
  Dims out = {x.dims[0], x.dims[1]};
  for (int64_t d : spatial_out(n, x.dims, nullptr, n.attrs.get_int("ceil_mode", 0) != 0)) out.push_back(d);
  set_output(g, n, 0, x.dtype, out);
  if (n.outputs.size() > 1) set_output(g, n, 1, DType::kI64, out);
}

void infer_global_pool(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  KILN_CHECK(x.dims.size() >= 3, "input must have rank >= 3, got {}", dims_to_string(x.dims));
  Dims out = {x.dims[0], x.dims[1]};
  out.resize(x.dims.size(), 1);
  set_output(g, n, 0, x.dtype, out);
}

void infer_batchnorm(Graph& g, const Node& n) {
  const Value& x = known_input(g, n, 0);
  KILN_CHECK(x.dims.size() >= 2, "input must have rank >= 2, got {}", dims_to_string(x.dims));
  const char* names[] = {"", "scale", "bias", "mean", "var"};
  for (size_t i = 1; i <= 4; ++i) {
    const Value& p = known_input(g, n, i);
    KILN_CHECK(p.dims.size() == 1 && (p.dims[0] == x.dims[1] || p.dims[0] < 0 || x.dims[1] < 0),
               "{} has shape {} but the input {} has {} channels", names[i], dims_to_string(p.dims),
               dims_to_string(x.dims), x.dims[1]);
  }
  set_output(g, n, 0, x.dtype, x.dims);
}

}  // namespace kiln::ir
