#include "quant/int8_reference.h"

#include <algorithm>
#include <cmath>

namespace kiln::quant {

int8_t quantize_int8(float x, float inv_scale) {
  // nearbyint rounds half to even in the default rounding mode, like __float2int_rn.
  const float q = std::nearbyint(x * inv_scale);
  return static_cast<int8_t>(std::clamp(q, -128.0f, 127.0f));
}

Tensor quantize_per_tensor(const Tensor& x, float scale) {
  KILN_CHECK(x.dtype() == DType::kF32, "quantize_per_tensor expects f32, got {}", dtype_name(x.dtype()));
  const float inv = 1.0f / scale;
  Tensor out(DType::kI8, x.dims());
  auto src = x.span<float>();
  auto dst = out.span<int8_t>();
  for (size_t i = 0; i < src.size(); ++i) dst[i] = quantize_int8(src[i], inv);
  return out;
}

Tensor quantize_per_channel(const Tensor& w, const std::vector<float>& scales) {
  KILN_CHECK(w.dtype() == DType::kF32 && w.rank() >= 1, "quantize_per_channel expects f32 weights");
  KILN_CHECK(static_cast<int64_t>(scales.size()) == w.dim(0), "{} scales for {} output channels", scales.size(),
             w.dim(0));
  Tensor out(DType::kI8, w.dims());
  const int64_t inner = w.dim(0) ? w.numel() / w.dim(0) : 0;
  auto src = w.span<float>();
  auto dst = out.span<int8_t>();
  for (int64_t k = 0; k < w.dim(0); ++k) {
    const float inv = 1.0f / scales[k];
    for (int64_t i = 0; i < inner; ++i) dst[k * inner + i] = quantize_int8(src[k * inner + i], inv);
  }
  return out;
}

Tensor int8_conv_accumulate(const Tensor& x, const Tensor& w, const ConvGeometry& g) {
  KILN_CHECK(x.dtype() == DType::kI8 && w.dtype() == DType::kI8 && x.rank() == 4 && w.rank() == 4,
             "int8 conv expects i8 [N,C,H,W] input and i8 [K,C,R,S] weights, got {} {} and {} {}",
             dtype_name(x.dtype()), dims_to_string(x.dims()), dtype_name(w.dtype()), dims_to_string(w.dims()));
  KILN_CHECK(x.dim(1) == w.dim(1), "int8 conv: input has {} channels, weights expect {}", x.dim(1), w.dim(1));
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const int64_t k = w.dim(0), r = w.dim(2), s = w.dim(3);
  const int64_t ho = (h + g.pads[0] + g.pads[2] - g.dilations[0] * (r - 1) - 1) / g.strides[0] + 1;
  const int64_t wo = (wd + g.pads[1] + g.pads[3] - g.dilations[1] * (s - 1) - 1) / g.strides[1] + 1;
  KILN_CHECK(ho > 0 && wo > 0, "int8 conv: output would be empty for input {}", dims_to_string(x.dims()));
  Tensor y(DType::kI32, {n, k, ho, wo});
  const int8_t* xp = x.data<int8_t>();
  const int8_t* wp = w.data<int8_t>();
  int32_t* yp = y.data<int32_t>();
  for (int64_t in = 0; in < n; ++in)
    for (int64_t ik = 0; ik < k; ++ik)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          int32_t acc = 0;
          for (int64_t ic = 0; ic < c; ++ic)
            for (int64_t ky = 0; ky < r; ++ky) {
              const int64_t iy = oy * g.strides[0] - g.pads[0] + ky * g.dilations[0];
              if (iy < 0 || iy >= h) continue;
              for (int64_t kx = 0; kx < s; ++kx) {
                const int64_t ix = ox * g.strides[1] - g.pads[1] + kx * g.dilations[1];
                if (ix < 0 || ix >= wd) continue;
                acc += int32_t{xp[((in * c + ic) * h + iy) * wd + ix]} * int32_t{wp[((ik * c + ic) * r + ky) * s + kx]};
              }
            }
          yp[((in * k + ik) * ho + oy) * wo + ox] = acc;
        }
  return y;
}

float int8_epilogue(int32_t acc, float combined_scale, float bias, float residual_scale, int8_t residual_q,
                    bool has_residual, bool relu) {
  float v = std::fma(static_cast<float>(acc), combined_scale, bias);
  if (has_residual) v = std::fma(static_cast<float>(residual_q), residual_scale, v);
  if (relu) v = std::max(v, 0.0f);
  return v;
}

}  // namespace kiln::quant
