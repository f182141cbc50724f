#include "zoo/calibration_ops.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace kiln::zoo {
namespace {

int out_size(int in, int kernel, int stride, int pad_begin, int pad_end) {
  return (in + pad_begin + pad_end - kernel) / stride + 1;
}

}  // namespace

Activation conv2d(const Activation& x, const std::vector<float>& weights, int out_channels, const ConvGeometry& g) {
  const int k = g.kernel;
  const int in_per_group = x.c / g.group, out_per_group = out_channels / g.group;
  KILN_CHECK(weights.size() == static_cast<size_t>(out_channels) * in_per_group * k * k,
             "zoo conv: weight size mismatch");
  Activation y{x.n, out_channels, out_size(x.h, k, g.stride, g.pad_top, g.pad_bottom),
               out_size(x.w, k, g.stride, g.pad_left, g.pad_right), {}};
  y.data.assign(static_cast<size_t>(y.n) * y.c * y.plane(), 0.f);
  const int rows = in_per_group * k * k;
  const int cols = y.h * y.w;
  std::vector<float> columns(static_cast<size_t>(rows) * cols);
  for (int n = 0; n < x.n; ++n) {
    for (int grp = 0; grp < g.group; ++grp) {
      // im2col for this group's input channels.
      for (int ci = 0; ci < in_per_group; ++ci) {
        const float* src = x.data.data() + (static_cast<size_t>(n) * x.c + grp * in_per_group + ci) * x.plane();
        for (int ky = 0; ky < k; ++ky) {
          for (int kx = 0; kx < k; ++kx) {
            float* dst = columns.data() + static_cast<size_t>((ci * k + ky) * k + kx) * cols;
            for (int oy = 0; oy < y.h; ++oy) {
              const int iy = oy * g.stride - g.pad_top + ky;
              for (int ox = 0; ox < y.w; ++ox) {
                const int ix = ox * g.stride - g.pad_left + kx;
                dst[oy * y.w + ox] = (iy >= 0 && iy < x.h && ix >= 0 && ix < x.w) ? src[iy * x.w + ix] : 0.f;
              }
            }
          }
        }
      }
      const float* w = weights.data() + static_cast<size_t>(grp) * out_per_group * rows;
      float* out = y.data.data() + (static_cast<size_t>(n) * y.c + grp * out_per_group) * y.plane();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out_per_group, cols, rows, 1.f, w, rows,
                  columns.data(), cols, 0.f, out, cols);
    }
  }
  return y;
}

void channel_stats(const Activation& x, std::vector<float>* mean, std::vector<float>* var) {
  mean->assign(x.c, 0.f);
  var->assign(x.c, 0.f);
  const double count = static_cast<double>(x.n) * x.plane();
  for (int c = 0; c < x.c; ++c) {
    double sum = 0, sum_sq = 0;
    for (int n = 0; n < x.n; ++n) {
      const float* p = x.data.data() + (static_cast<size_t>(n) * x.c + c) * x.plane();
      for (size_t i = 0; i < x.plane(); ++i) {
        sum += p[i];
        sum_sq += static_cast<double>(p[i]) * p[i];
      }
    }
    const double m = sum / count;
    (*mean)[c] = static_cast<float>(m);
    (*var)[c] = static_cast<float>(std::max(sum_sq / count - m * m, 0.0));
  }
}

Activation batch_norm(const Activation& x, const std::vector<float>& scale, const std::vector<float>& bias,
                      const std::vector<float>& mean, const std::vector<float>& var, float eps) {
  Activation y = x;
  for (int n = 0; n < x.n; ++n) {
    for (int c = 0; c < x.c; ++c) {
      const float mul = scale[c] / std::sqrt(var[c] + eps);
      const float add = bias[c] - mean[c] * mul;
      float* p = y.data.data() + (static_cast<size_t>(n) * x.c + c) * x.plane();
      for (size_t i = 0; i < x.plane(); ++i) p[i] = p[i] * mul + add;
    }
  }
  return y;
}

Activation clip(const Activation& x, float lo, float hi) {
  Activation y = x;
  for (float& v : y.data) v = std::min(std::max(v, lo), hi);
  return y;
}

Activation add(const Activation& a, const Activation& b) {
  KILN_CHECK(a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w, "zoo add: shape mismatch");
  Activation y = a;
  for (size_t i = 0; i < y.data.size(); ++i) y.data[i] += b.data[i];
  return y;
}

Activation max_pool(const Activation& x, const ConvGeometry& g) {
  Activation y{x.n, x.c, out_size(x.h, g.kernel, g.stride, g.pad_top, g.pad_bottom),
               out_size(x.w, g.kernel, g.stride, g.pad_left, g.pad_right), {}};
  y.data.resize(static_cast<size_t>(y.n) * y.c * y.plane());
  for (int nc = 0; nc < x.n * x.c; ++nc) {
    const float* src = x.data.data() + static_cast<size_t>(nc) * x.plane();
    float* dst = y.data.data() + static_cast<size_t>(nc) * y.plane();
    for (int oy = 0; oy < y.h; ++oy) {
      for (int ox = 0; ox < y.w; ++ox) {
        float best = -std::numeric_limits<float>::infinity();
        for (int ky = 0; ky < g.kernel; ++ky) {
          const int iy = oy * g.stride - g.pad_top + ky;
          if (iy < 0 || iy >= x.h) continue;
          for (int kx = 0; kx < g.kernel; ++kx) {
            const int ix = ox * g.stride - g.pad_left + kx;
            if (ix >= 0 && ix < x.w) best = std::max(best, src[iy * x.w + ix]);
          }
        }
        dst[oy * y.w + ox] = best;
      }
    }
  }
  return y;
}

Activation global_average_pool(const Activation& x) {
  Activation y{x.n, x.c, 1, 1, std::vector<float>(static_cast<size_t>(x.n) * x.c)};
  for (int nc = 0; nc < x.n * x.c; ++nc) {
    const float* src = x.data.data() + static_cast<size_t>(nc) * x.plane();
    double sum = 0;
    for (size_t i = 0; i < x.plane(); ++i) sum += src[i];
    y.data[nc] = static_cast<float>(sum / x.plane());
  }
  return y;
}

Activation dense(const Activation& x, const std::vector<float>& weights, const std::vector<float>& bias, int out) {
  const int in = x.c * x.h * x.w;
  KILN_CHECK(weights.size() == static_cast<size_t>(out) * in && bias.size() == static_cast<size_t>(out),
             "zoo dense: weight size mismatch");
  Activation y{x.n, out, 1, 1, std::vector<float>(static_cast<size_t>(x.n) * out)};
  for (int n = 0; n < x.n; ++n) std::copy(bias.begin(), bias.end(), y.data.begin() + static_cast<size_t>(n) * out);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, x.n, out, in, 1.f, x.data.data(), in, weights.data(), in, 1.f,
              y.data.data(), out);
  return y;
}

}  // namespace kiln::zoo
