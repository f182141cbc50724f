#include "image/resize.h"

#include <cmath>

#include "core/error.h"

namespace kiln::image {
namespace {

// PIL's fixed-point precision for 8-bit images (Resample.c: 32 - 8 - 2).
constexpr int kPrecisionBits = 22;

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// For each output pixel: the first input pixel, the tap count and fixed-point weights.
struct Taps {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;  // out_size * ksize
};

// Mirrors PIL's precompute_coeffs + normalize_coeffs_8bpc, including its rounding.
Taps compute_taps(int in_size, int out_size, bool antialias) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = (antialias && scale > 1.0) ? scale : 1.0;
  const double support = 1.0 * filterscale;
  Taps taps;
  taps.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(static_cast<size_t>(out_size) * taps.ksize, 0);
  std::vector<double> k(taps.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = triangle((x + xmin - center + 0.5) * ss);
      total += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = total != 0.0 ? k[x] / total : k[x];
      taps.weights[static_cast<size_t>(xx) * taps.ksize + x] =
          static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    taps.first[xx] = xmin;
    taps.count[xx] = xmax;
  }
  return taps;
}

uint8_t clip8(int64_t v) {
  if (v >= (int64_t{1} << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

Image resize_horizontal(const Image& in, int out_width, bool antialias) {
  const Taps taps = compute_taps(in.width, out_width, antialias);
  Image out{out_width, in.height, std::vector<uint8_t>(static_cast<size_t>(out_width) * in.height * 3)};
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* row = in.rgb.data() + static_cast<size_t>(y) * in.width * 3;
    uint8_t* dst = out.rgb.data() + static_cast<size_t>(y) * out_width * 3;
    for (int xx = 0; xx < out_width; ++xx) {
      const int32_t* k = taps.weights.data() + static_cast<size_t>(xx) * taps.ksize;
      int64_t acc[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
      for (int x = 0; x < taps.count[xx]; ++x) {
        const uint8_t* px = row + static_cast<size_t>(taps.first[xx] + x) * 3;
        for (int c = 0; c < 3; ++c) acc[c] += px[c] * static_cast<int64_t>(k[x]);
      }
      for (int c = 0; c < 3; ++c) dst[xx * 3 + c] = clip8(acc[c]);
    }
  }
  return out;
}

Image resize_vertical(const Image& in, int out_height, bool antialias) {
  const Taps taps = compute_taps(in.height, out_height, antialias);
  const size_t row_bytes = static_cast<size_t>(in.width) * 3;
  Image out{in.width, out_height, std::vector<uint8_t>(row_bytes * out_height)};
  std::vector<int64_t> acc(row_bytes);
  for (int yy = 0; yy < out_height; ++yy) {
    const int32_t* k = taps.weights.data() + static_cast<size_t>(yy) * taps.ksize;
    std::fill(acc.begin(), acc.end(), int64_t{1} << (kPrecisionBits - 1));
    for (int y = 0; y < taps.count[yy]; ++y) {
      const uint8_t* row = in.rgb.data() + static_cast<size_t>(taps.first[yy] + y) * row_bytes;
      for (size_t i = 0; i < row_bytes; ++i) acc[i] += row[i] * static_cast<int64_t>(k[y]);
    }
    uint8_t* dst = out.rgb.data() + static_cast<size_t>(yy) * row_bytes;
    for (size_t i = 0; i < row_bytes; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

}  // namespace

Image resize_bilinear(const Image& in, int width, int height, bool antialias) {
  KILN_CHECK(in.width > 0 && in.height > 0 && in.rgb.size() == static_cast<size_t>(in.width) * in.height * 3,
             "resize: invalid source image {}x{} with {} bytes", in.width, in.height, in.rgb.size());
  check_image_size(width, height, "resize target");
  // PIL skips a pass whose size does not change; so do we, which keeps results identical.
  const Image* current = &in;
  Image horizontal;
  if (width != in.width) {
    horizontal = resize_horizontal(in, width, antialias);
    current = &horizontal;
  }
  if (height != current->height) return resize_vertical(*current, height, antialias);
  return current == &in ? in : horizontal;
}

void size_for_shorter_side(int width, int height, int shorter, int* out_width, int* out_height) {
  KILN_CHECK(width > 0 && height > 0 && shorter > 0, "resize: invalid sizes {}x{} -> shorter side {}", width,
             height, shorter);
  if (width <= height) {
    *out_width = shorter;
    *out_height = static_cast<int>(static_cast<int64_t>(shorter) * height / width);
  } else {
    *out_height = shorter;
    *out_width = static_cast<int>(static_cast<int64_t>(shorter) * width / height);
  }
}

Image center_crop(const Image& in, int width, int height) {
  check_image_size(width, height, "crop target");
  // Python's round() rounds halves to even; nearbyint does the same in the default mode.
  const int top = static_cast<int>(std::nearbyint((in.height - height) / 2.0));
  const int left = static_cast<int>(std::nearbyint((in.width - width) / 2.0));
  Image out{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3, 0)};
  for (int y = 0; y < height; ++y) {
    const int sy = y + top;
    if (sy < 0 || sy >= in.height) continue;
    for (int x = 0; x < width; ++x) {
      const int sx = x + left;
      if (sx < 0 || sx >= in.width) continue;
      const uint8_t* src = in.rgb.data() + (static_cast<size_t>(sy) * in.width + sx) * 3;
      uint8_t* dst = out.rgb.data() + (static_cast<size_t>(y) * width + x) * 3;
      dst[0] = src[0];
      dst[1] = src[1];
      dst[2] = src[2];
    }
  }
  return out;
}

}  // namespace kiln::image
