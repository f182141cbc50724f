// QuantizeLinear and DequantizeLinear, per-tensor or per-axis, to and from u8/i8 (and
// i32 for dequantization). Quantization rounds half to even and saturates.
#include <cmath>
#include <limits>

#include "backends/cpu/dtype_dispatch.h"
#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

namespace {

// How scale/zero point index into the input: one value, or one per slice of `axis`.
struct QuantLayout {
  bool per_axis = false;
  int64_t channels = 1;  // size of the quantized axis
  int64_t inner = 1;     // elements after that axis
};

QuantLayout quant_layout(const ir::Node& node, const Tensor& x, const Tensor& scale, const Tensor* zero_point) {
  QuantLayout l;
  if (zero_point) {
    KILN_CHECK(zero_point->dims() == scale.dims(), "zero point {} must have the shape of scale {}",
               zero_point->describe(), scale.describe());
  }
  if (scale.numel() == 1 && scale.rank() <= 1) return l;
  KILN_CHECK(scale.rank() == 1, "scale must be a scalar or a 1-D per-axis vector, got {}", scale.describe());
  const int64_t axis = normalize_axis(node.attrs.get_int("axis", 1), x.rank());
  KILN_CHECK(scale.dim(0) == x.dim(axis), "per-axis scale {} must have one value per slice of axis {} of {}",
             scale.describe(), axis, x.describe());
  l.per_axis = true;
  l.channels = x.dim(axis);
  for (int64_t d = axis + 1; d < x.rank(); ++d) l.inner *= x.dim(d);
  return l;
}

int64_t param_index(const QuantLayout& l, int64_t i) { return l.per_axis ? (i / l.inner) % l.channels : 0; }

const Tensor* present(const Inputs& in, size_t i) {
  const Tensor* t = optional_input(in, i);
  return t && !t->empty() ? t : nullptr;
}

}  // namespace

Outputs quantize_linear(const ir::Node& node, const Inputs& in) {
  const Tensor& x_in = required(in, 0);
  const Tensor& scale_in = required(in, 1);
  const Tensor* zp = present(in, 2);
  KILN_CHECK(is_float(x_in.dtype()) || x_in.dtype() == DType::kI32, "input must be float or int32, got {}",
             x_in.describe());
  KILN_CHECK(is_float(scale_in.dtype()), "scale must be a float tensor, got {}", scale_in.describe());
  const DType out_type = zp ? zp->dtype() : DType::kU8;
  if (out_type != DType::kU8 && out_type != DType::kI8)
    fail_with(ErrorCode::kUnimplemented, "QuantizeLinear to {} is not supported (u8 and i8 are)",
              dtype_name(out_type));
  const QuantLayout layout = quant_layout(node, x_in, scale_in, zp);
  const std::vector<double> scales = scale_in.to_doubles();
  const std::vector<int64_t> zero_points = zp ? zp->to_int64s() : std::vector<int64_t>(scales.size(), 0);
  for (double s : scales) KILN_CHECK(s != 0.0, "scale must be non-zero, got {}", s);
  const Tensor x = x_in.dtype() == DType::kF32 ? x_in : x_in.cast(DType::kF32);
  Tensor y(out_type, x.dims());
  const float* px = x.data<float>();
  const float lo = out_type == DType::kU8 ? 0.f : -128.f, hi = out_type == DType::kU8 ? 255.f : 127.f;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t p = param_index(layout, i);
    // nearbyint rounds half to even in the default rounding mode.
    float q = std::nearbyint(px[i] / static_cast<float>(scales[p])) + static_cast<float>(zero_points[p]);
    q = q != q ? 0.f : std::min(hi, std::max(lo, q));
    if (out_type == DType::kU8) y.data<uint8_t>()[i] = static_cast<uint8_t>(q);
    else y.data<int8_t>()[i] = static_cast<int8_t>(q);
  }
  return {y};
}

Outputs dequantize_linear(const ir::Node& node, const Inputs& in) {
  const Tensor& x = required(in, 0);
  const Tensor& scale = required(in, 1);
  const Tensor* zp = present(in, 2);
  KILN_CHECK(x.dtype() == DType::kU8 || x.dtype() == DType::kI8 || x.dtype() == DType::kI32,
             "input must be u8, i8 or i32, got {}", x.describe());
  KILN_CHECK(is_float(scale.dtype()), "scale must be a float tensor, got {}", scale.describe());
  KILN_CHECK(!zp || zp->dtype() == x.dtype(), "zero point {} must have the input's dtype {}",
             zp ? zp->describe() : "", dtype_name(x.dtype()));
  const QuantLayout layout = quant_layout(node, x, scale, zp);
  const std::vector<double> scales = scale.to_doubles();
  const std::vector<int64_t> zero_points = zp ? zp->to_int64s() : std::vector<int64_t>(scales.size(), 0);
  const std::vector<int64_t> values = x.to_int64s();
  Tensor y(DType::kF32, x.dims());
  float* py = y.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t p = param_index(layout, i);
    py[i] = static_cast<float>(values[i] - zero_points[p]) * static_cast<float>(scales[p]);
  }
  return {scale.dtype() == DType::kF32 ? y : y.cast(scale.dtype())};
}

}  // namespace kiln::cpu
