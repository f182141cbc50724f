// Conv and kiln.FusedConv (Y = act(conv(X, W) + B + Z)), any number of spatial axes, any groups.
//
// Regular convs lower to one BLAS GEMM per (image, group): im2col builds the
// [C/group * kh * kw, OH * OW] patch matrix, except for 1x1 stride-1 unpadded convs whose
// input already is that matrix. Depthwise 1-D/2-D convs (one input channel per group) would
// make GEMMs of a single row, so they use a direct loop instead. Convs with more than two
// spatial axes build their patch matrix with a generic N-D walk and share the GEMM path.
#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/cpu/activation.h"
#include "backends/cpu/blas_gemm.h"
#include "backends/cpu/dtype_dispatch.h"
#include "backends/cpu/kernel_functions.h"
#include "backends/cpu/window_geometry.h"

namespace kiln::cpu {

namespace {

struct ConvShape {
  int64_t batch, in_channels, out_channels, group;
  int64_t in_h, in_w, out_h, out_w;
  int64_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_t, pad_l;
};

template <typename T>
void im2col(const T* x, const ConvShape& s, int64_t channels, T* col) {
  const int64_t out_size = s.out_h * s.out_w;
  for (int64_t c = 0; c < channels; ++c) {
    const T* plane = x + c * s.in_h * s.in_w;
    for (int64_t ki = 0; ki < s.k_h; ++ki) {
      for (int64_t kj = 0; kj < s.k_w; ++kj) {
        T* row = col + ((c * s.k_h + ki) * s.k_w + kj) * out_size;
        for (int64_t oh = 0; oh < s.out_h; ++oh) {
          T* dst = row + oh * s.out_w;
          const int64_t ih = oh * s.stride_h - s.pad_t + ki * s.dil_h;
          if (ih < 0 || ih >= s.in_h) {
            std::fill(dst, dst + s.out_w, T(0));
            continue;
          }
          const T* src = plane + ih * s.in_w;
          const int64_t iw0 = kj * s.dil_w - s.pad_l;
          if (s.stride_w == 1) {
            // Contiguous run: zero the padded ends, copy the middle.
            const int64_t lo = std::clamp<int64_t>(-iw0, 0, s.out_w);
            const int64_t hi = std::clamp<int64_t>(s.in_w - iw0, lo, s.out_w);
            std::fill(dst, dst + lo, T(0));
            if (hi > lo) std::memcpy(dst + lo, src + iw0 + lo, static_cast<size_t>(hi - lo) * sizeof(T));
            std::fill(dst + hi, dst + s.out_w, T(0));
          } else {
            for (int64_t ow = 0; ow < s.out_w; ++ow) {
              const int64_t iw = iw0 + ow * s.stride_w;
              dst[ow] = iw >= 0 && iw < s.in_w ? src[iw] : T(0);
            }
          }
        }
      }
    }
  }
}

template <typename T>
void im2col_nd(const T* x, const WindowGeometry& g, int64_t channels, T* col) {
  const size_t rank = g.rank();
  const int64_t in_size = num_elements(g.input), out_size = num_elements(g.output);
  const int64_t window = num_elements(g.kernel);
  std::vector<int64_t> k(rank), o(rank);
  for (int64_t c = 0; c < channels; ++c) {
    const T* plane = x + c * in_size;
    for (int64_t kw = 0; kw < window; ++kw) {
      for (int64_t rest = kw, d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
        k[d] = rest % g.kernel[d];
        rest /= g.kernel[d];
      }
      T* row = col + (c * window + kw) * out_size;
      for (int64_t p = 0; p < out_size; ++p) {
        for (int64_t rest = p, d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
          o[d] = rest % g.output[d];
          rest /= g.output[d];
        }
        int64_t at = 0;
        bool inside = true;
        for (size_t d = 0; d < rank && inside; ++d) {
          const int64_t i = o[d] * g.strides[d] - g.pad_begin[d] + k[d] * g.dilations[d];
          inside = i >= 0 && i < g.input[d];
          at = at * g.input[d] + i;
        }
        row[p] = inside ? plane[at] : T(0);
      }
    }
  }
}

template <typename T>
void conv_gemm_nd(const T* x, const T* w, T* y, const ConvShape& s, const WindowGeometry& g) {
  const int64_t cg = s.in_channels / s.group, mg = s.out_channels / s.group;
  const int64_t in_size = num_elements(g.input), out_size = num_elements(g.output);
  const int64_t k = cg * num_elements(g.kernel);
  if (mg == 0 || out_size == 0 || k == 0) return;
  std::vector<T> col(static_cast<size_t>(k * out_size));
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t gi = 0; gi < s.group; ++gi) {
      im2col_nd(x + (n * s.in_channels + gi * cg) * in_size, g, cg, col.data());
      blas_gemm(false, false, mg, out_size, k, T(1), w + gi * mg * k, k, col.data(), out_size, T(0),
                y + (n * s.out_channels + gi * mg) * out_size, out_size);
    }
  }
}

template <typename T>
void depthwise(const T* x, const T* w, T* y, const ConvShape& s) {
  const int64_t multiplier = s.out_channels / s.group;
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oc = 0; oc < s.out_channels; ++oc) {
      const T* plane = x + (n * s.in_channels + oc / multiplier) * s.in_h * s.in_w;
      const T* filter = w + oc * s.k_h * s.k_w;
      T* out = y + (n * s.out_channels + oc) * s.out_h * s.out_w;
      for (int64_t oh = 0; oh < s.out_h; ++oh) {
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
          T acc = T(0);
          for (int64_t ki = 0; ki < s.k_h; ++ki) {
            const int64_t ih = oh * s.stride_h - s.pad_t + ki * s.dil_h;
            if (ih < 0 || ih >= s.in_h) continue;
            for (int64_t kj = 0; kj < s.k_w; ++kj) {
              const int64_t iw = ow * s.stride_w - s.pad_l + kj * s.dil_w;
              if (iw >= 0 && iw < s.in_w) acc += plane[ih * s.in_w + iw] * filter[ki * s.k_w + kj];
            }
          }
          out[oh * s.out_w + ow] = acc;
        }
      }
    }
  }
}

template <typename T>
void conv_gemm(const T* x, const T* w, T* y, const ConvShape& s) {
  const int64_t cg = s.in_channels / s.group, mg = s.out_channels / s.group;
  const int64_t out_size = s.out_h * s.out_w, k = cg * s.k_h * s.k_w;
  if (mg == 0 || out_size == 0 || k == 0) return;  // empty operands: the zero-filled output stands
  const bool direct = s.k_h == 1 && s.k_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_t == 0 &&
                      s.pad_l == 0 && s.out_h == s.in_h && s.out_w == s.in_w;
  std::vector<T> col(direct ? 0 : static_cast<size_t>(k * out_size));
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t g = 0; g < s.group; ++g) {
      const T* xg = x + (n * s.in_channels + g * cg) * s.in_h * s.in_w;
      const T* patches = xg;
      if (!direct) {
        im2col(xg, s, cg, col.data());
        patches = col.data();
      }
      blas_gemm(false, false, mg, out_size, k, T(1), w + g * mg * k, k, patches, out_size, T(0),
                y + (n * s.out_channels + g * mg) * out_size, out_size);
    }
  }
}

template <typename T>
void epilogue(T* y, const Tensor* bias, const Tensor* residual, const Activation& act, const ConvShape& s) {
  const int64_t out_size = s.out_h * s.out_w;
  const T* b = bias ? bias->data<T>() : nullptr;
  const T* z = residual ? residual->data<T>() : nullptr;
  if (!b && !z && act.kind == ActivationKind::kNone) return;
  for (int64_t row = 0; row < s.batch * s.out_channels; ++row) {
    T* out = y + row * out_size;
    if (b) {
      const T bv = b[row % s.out_channels];
      for (int64_t i = 0; i < out_size; ++i) out[i] += bv;
    }
    if (z) {
      const T* zr = z + row * out_size;
      for (int64_t i = 0; i < out_size; ++i) out[i] += zr[i];
    }
    apply_activation(act, out, out_size);
  }
}

Tensor run_conv(const ir::Node& node, const Inputs& in, const Activation& act, bool allow_residual) {
  const Tensor& x_in = required(in, 0);
  const Tensor& w_in = required(in, 1);
  require_float(x_in, "Conv input X");
  KILN_CHECK(w_in.dtype() == x_in.dtype(), "weight dtype {} differs from input dtype {}", w_in.describe(),
             x_in.describe());
  KILN_CHECK(x_in.rank() >= 3, "input X must be [N, C, spatial...], got {}", x_in.describe());
  KILN_CHECK(w_in.rank() == x_in.rank(), "weight {} must have the rank of input {}", w_in.describe(),
             x_in.describe());
  const size_t spatial = static_cast<size_t>(x_in.rank() - 2);
  const int64_t group = node.attrs.get_int("group", 1);
  const Dims& xd = x_in.dims();
  const Dims& wd = w_in.dims();
  KILN_CHECK(group >= 1 && xd[1] % group == 0 && wd[0] % group == 0,
             "group {} must divide input channels {} and output channels {}", group, xd[1], wd[0]);
  KILN_CHECK(wd[1] * group == xd[1], "weight {} expects {} input channels (group {}), input {} has {}",
             w_in.describe(), wd[1] * group, group, x_in.describe(), xd[1]);
  const Dims kernel(wd.begin() + 2, wd.end());
  const Dims declared = node.attrs.get_ints("kernel_shape", {});
  KILN_CHECK(declared.empty() || declared == kernel, "kernel_shape {} does not match weight {}",
             dims_to_string(declared), w_in.describe());
  const WindowGeometry nd = window_geometry(node.attrs, Dims(xd.begin() + 2, xd.end()), kernel, false);
  const bool planar = spatial <= 2;
  // Past two spatial axes the 2-D fields describe the flattened planes (enough for the epilogue).
  const WindowGeometry g = planar ? as_2d(nd) : nd;
  const ConvShape s = planar ? ConvShape{xd[0], xd[1], wd[0], group, g.input[0], g.input[1], g.output[0],
                                         g.output[1], g.kernel[0], g.kernel[1], g.strides[0], g.strides[1],
                                         g.dilations[0], g.dilations[1], g.pad_begin[0], g.pad_begin[1]}
                             : ConvShape{xd[0], xd[1], wd[0], group, 1, num_elements(nd.input), 1,
                                         num_elements(nd.output), 0, 0, 0, 0, 0, 0, 0, 0};
  Dims y_dims = {s.batch, s.out_channels};
  for (int64_t o : nd.output) y_dims.push_back(o);

  const Tensor* b_in = optional_input(in, 2);
  if (b_in && b_in->empty()) b_in = nullptr;
  if (b_in) {
    KILN_CHECK(b_in->dtype() == x_in.dtype() && b_in->numel() == s.out_channels,
               "bias {} must be a {} vector of {} values", b_in->describe(), dtype_name(x_in.dtype()),
               s.out_channels);
  }
  const Tensor* z_in = allow_residual ? optional_input(in, 3) : nullptr;
  if (z_in && z_in->empty()) z_in = nullptr;
  if (z_in) {
    KILN_CHECK(z_in->dims() == y_dims && z_in->dtype() == x_in.dtype(), "residual Z {} must be {}{}",
               z_in->describe(), dtype_name(x_in.dtype()), dims_to_string(y_dims));
  }

  const Tensor x = widen_half(x_in), w = widen_half(w_in);
  Tensor bias, residual;
  if (b_in) bias = widen_half(*b_in);
  if (z_in) residual = widen_half(*z_in);
  Tensor y(x.dtype(), y_dims);
  dispatch_float(x.dtype(), "Conv", [&](auto tag) {
    using T = decltype(tag);
    if (!planar)
      conv_gemm_nd(x.data<T>(), w.data<T>(), y.data<T>(), s, nd);
    else if (s.in_channels / group == 1 && group > 1)
      depthwise(x.data<T>(), w.data<T>(), y.data<T>(), s);
    else
      conv_gemm(x.data<T>(), w.data<T>(), y.data<T>(), s);
    epilogue(y.data<T>(), b_in ? &bias : nullptr, z_in ? &residual : nullptr, act, s);
    return 0;
  });
  return narrow_to(y, x_in.dtype());
}

}  // namespace

Outputs conv(const ir::Node& n, const Inputs& in) { return {run_conv(n, in, Activation{}, false)}; }

Outputs fused_conv(const ir::Node& n, const Inputs& in) {
  return {run_conv(n, in, activation_from_attrs(n.attrs), true)};
}

}  // namespace kiln::cpu
