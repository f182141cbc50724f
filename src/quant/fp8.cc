#include "quant/fp8.h"

#include <algorithm>
#include <cmath>

namespace kiln::quant {

uint8_t float_to_e4m3(float x) {
  if (std::isnan(x)) return 0x7f;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  const float a = std::fabs(x);
  if (a >= kFp8E4M3Max) return sign | 0x7e;  // saturate (also infinities)
  // Below the smallest normal (2^-6) values are multiples of 2^-9; the code of m * 2^-9 is
  // m, and m = 8 is the code of 2^-6, so rounding up into the normals needs no special case.
  if (a < 0x1p-6f) return sign | static_cast<uint8_t>(std::nearbyint(a * 0x1p9f));
  int e2 = 0;
  std::frexp(a, &e2);  // a = f * 2^e2, f in [0.5, 1)
  int e = e2 - 1;      // a = m * 2^e, m in [1, 2)
  // (m - 1) * 8 is exact in float; nearbyint rounds half to even in the default mode.
  int q = static_cast<int>(std::nearbyint((std::ldexp(a, -e) - 1.0f) * 8.0f));
  if (q == 8) {
    q = 0;
    ++e;
  }
  // a < 448 never rounds above 448 (= 1.75 * 2^8, code 0x7e).
  return sign | static_cast<uint8_t>(((e + 7) << 3) | q);
}

float e4m3_to_float(uint8_t code) {
  const bool neg = code & 0x80;
  const int e = (code >> 3) & 0xf, m = code & 0x7;
  float v;
  if (e == 0xf && m == 0x7) v = std::nanf("");
  else if (e == 0) v = std::ldexp(static_cast<float>(m), -9);
  else v = std::ldexp(1.0f + static_cast<float>(m) / 8.0f, e - 7);
  return neg ? -v : v;
}

std::vector<float> fp8_per_channel_scales(const Tensor& weights) {
  const Tensor w = weights.dtype() == DType::kF32 ? weights : weights.cast(DType::kF32);
  const int64_t k = w.dim(0), per = k ? w.numel() / k : 0;
  std::vector<float> scales(static_cast<size_t>(k), 1.0f);
  for (int64_t i = 0; i < k; ++i) {
    float m = 0;
    for (int64_t j = 0; j < per; ++j) m = std::max(m, std::fabs(w.data<float>()[i * per + j]));
    if (m > 0) scales[static_cast<size_t>(i)] = m / kFp8E4M3Max;
  }
  return scales;
}

}  // namespace kiln::quant
