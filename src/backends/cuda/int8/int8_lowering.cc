#include "backends/cuda/int8/int8_lowering.h"

#include <cstring>

#include "quant/fp8.h"
#include "quant/int8_reference.h"

namespace kiln::cuda::int8 {

namespace {

// Weights f32 [K, C, R, S] -> E4M3 codes of w / scale[k], same shape.
std::vector<uint8_t> fp8_weight_codes(const Tensor& weights, const std::vector<float>& scales) {
  const Tensor w = weights.dtype() == DType::kF32 ? weights : weights.cast(DType::kF32);
  const int64_t per = w.numel() / w.dim(0);
  std::vector<uint8_t> codes(static_cast<size_t>(w.numel()));
  for (int64_t i = 0; i < w.numel(); ++i)
    codes[static_cast<size_t>(i)] = quant::float_to_e4m3(w.data<float>()[i] / scales[static_cast<size_t>(i / per)]);
  return codes;
}

}  // namespace

Int8ConvConstants int8_conv_constants(const Tensor& weights, const Tensor* bias, float x_scale, int64_t c_pad,
                                      DType qtype) {
  const int64_t k = weights.dim(0), c = weights.dim(1), r = weights.dim(2), s = weights.dim(3);
  const int64_t k_pad = pad_channels(k, qtype);
  KILN_CHECK(c_pad >= c, "padded input channels {} below the weights' {}", c_pad, c);
  KILN_CHECK(qtype == DType::kI8 || qtype == DType::kFP8E4M3, "quantized weights are i8 or fp8e4m3");
  const bool fp8 = qtype == DType::kFP8E4M3;
  const std::vector<float> w_scales = fp8 ? quant::fp8_per_channel_scales(weights) : quant::per_channel_scales(weights, 0);
  std::vector<uint8_t> codes;
  Tensor q;
  if (fp8) codes = fp8_weight_codes(weights, w_scales);
  else q = quant::quantize_per_channel(weights, w_scales);
  Int8ConvConstants out;
  out.weights = Tensor(qtype, {k_pad, c_pad, r, s});
  std::memset(out.weights.raw(), 0, out.weights.nbytes());
  // Bytes either way: int8 values or E4M3 codes.
  const uint8_t* src = fp8 ? codes.data() : static_cast<const uint8_t*>(q.raw());
  uint8_t* dst = static_cast<uint8_t*>(out.weights.raw());
  for (int64_t ik = 0; ik < k; ++ik)
    for (int64_t ic = 0; ic < c; ++ic)
      for (int64_t iy = 0; iy < r; ++iy)
        for (int64_t ix = 0; ix < s; ++ix)
          dst[((ik * r + iy) * s + ix) * c_pad + ic] = src[((ik * c + ic) * r + iy) * s + ix];
  std::vector<float> scale(static_cast<size_t>(k_pad), 1.0f), b(static_cast<size_t>(k_pad), 0.0f);
  const Tensor b32 = bias ? (bias->dtype() == DType::kF32 ? *bias : bias->cast(DType::kF32)) : Tensor();
  for (int64_t ik = 0; ik < k; ++ik) {
    scale[ik] = x_scale * w_scales[ik];
    if (bias) b[ik] = b32.data<float>()[ik];
  }
  out.scale = Tensor::from_vector<float>({k_pad}, scale);
  out.bias = Tensor::from_vector<float>({k_pad}, b);
  return out;
}

}  // namespace kiln::cuda::int8
