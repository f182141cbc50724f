#include "backends/cpu/window_geometry.h"

#include "core/error.h"

namespace kiln::cpu {

namespace {

Dims attr_or(const ir::Attributes& attrs, const char* name, size_t rank, int64_t fallback) {
  Dims v = attrs.get_ints(name, Dims(rank, fallback));
  if (v.empty()) v.assign(rank, fallback);
  KILN_CHECK(v.size() == rank, "{} has {} values but the op has {} spatial axes", name, v.size(), rank);
  for (int64_t x : v) KILN_CHECK(x >= 1, "{} must be positive, got {}", name, dims_to_string(v));
  return v;
}

}  // namespace

WindowGeometry window_geometry(const ir::Attributes& attrs, const Dims& input, const Dims& kernel, bool ceil_mode) {
  const size_t rank = input.size();
  KILN_CHECK(rank >= 1, "sliding-window op needs at least one spatial axis");
  KILN_CHECK(kernel.size() == rank, "kernel {} does not match {} spatial axes of the input", dims_to_string(kernel),
             rank);
  WindowGeometry g;
  g.input = input;
  g.kernel = kernel;
  for (int64_t k : kernel) KILN_CHECK(k >= 1, "kernel_shape must be positive, got {}", dims_to_string(kernel));
  g.strides = attr_or(attrs, "strides", rank, 1);
  g.dilations = attr_or(attrs, "dilations", rank, 1);
  g.pad_begin.assign(rank, 0);
  g.pad_end.assign(rank, 0);
  g.output.assign(rank, 0);

  const std::string auto_pad = attrs.get_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    const Dims pads = attrs.get_ints("pads", {});
    if (!pads.empty()) {
      KILN_CHECK(pads.size() == 2 * rank, "pads has {} values, expected {} (begin and end per spatial axis)",
                 pads.size(), 2 * rank);
      for (size_t i = 0; i < rank; ++i) {
        KILN_CHECK(pads[i] >= 0 && pads[i + rank] >= 0, "pads must be non-negative, got {}", dims_to_string(pads));
        g.pad_begin[i] = pads[i];
        g.pad_end[i] = pads[i + rank];
      }
    }
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < rank; ++i) {
      const int64_t out = (input[i] + g.strides[i] - 1) / g.strides[i];
      const int64_t span = (kernel[i] - 1) * g.dilations[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[i] + span - input[i]);
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
    }
  } else if (auto_pad != "VALID") {
    fail("unsupported auto_pad \"{}\" (expected NOTSET, SAME_UPPER, SAME_LOWER or VALID)", auto_pad);
  }

  for (size_t i = 0; i < rank; ++i) {
    const int64_t span = (kernel[i] - 1) * g.dilations[i] + 1;
    const int64_t room = input[i] + g.pad_begin[i] + g.pad_end[i] - span;
    KILN_CHECK(room >= 0, "window of {} (kernel {} dilation {}) does not fit input size {} with pads {}+{} on axis {}",
               span, kernel[i], g.dilations[i], input[i], g.pad_begin[i], g.pad_end[i], i);
    int64_t out = ceil_mode ? (room + g.strides[i] - 1) / g.strides[i] + 1 : room / g.strides[i] + 1;
    // A ceil-mode window must start inside the input or its begin padding.
    if (ceil_mode && (out - 1) * g.strides[i] >= input[i] + g.pad_begin[i]) --out;
    g.output[i] = out;
  }
  return g;
}

WindowGeometry as_2d(const WindowGeometry& g) {
  if (g.rank() != 1) return g;
  auto lift = [](const Dims& d, int64_t lead) { return Dims{lead, d[0]}; };
  WindowGeometry r;
  r.input = lift(g.input, 1);
  r.kernel = lift(g.kernel, 1);
  r.strides = lift(g.strides, 1);
  r.dilations = lift(g.dilations, 1);
  r.pad_begin = lift(g.pad_begin, 0);
  r.pad_end = lift(g.pad_end, 0);
  r.output = lift(g.output, 1);
  return r;
}

}  // namespace kiln::cpu
