// MaxPool (with optional Indices), AveragePool, GlobalAveragePool, GlobalMaxPool.
// 1-D and 2-D windows run tight 2-D loops; more spatial axes (3-D) take a generic
// N-D walk over window positions. Global pools take any number of spatial axes.
#include <limits>

#include "backends/cpu/dtype_dispatch.h"
#include "backends/cpu/kernel_functions.h"
#include "backends/cpu/window_geometry.h"

namespace kiln::cpu {

namespace {

struct PoolSetup {
  WindowGeometry g;  // 2-D for 1-D/2-D pools, else the N-D geometry
  int64_t planes;    // N * C
  Dims y_dims;
  bool nd() const { return g.rank() > 2; }
};

PoolSetup pool_setup(const ir::Node& node, const Tensor& x) {
  KILN_CHECK(x.rank() >= 3, "input must be [N, C, spatial...], got {}", x.describe());
  const Dims kernel = node.attrs.require_ints("kernel_shape");
  const bool ceil_mode = node.attrs.get_int("ceil_mode", 0) != 0;
  const Dims& xd = x.dims();
  const WindowGeometry raw = window_geometry(node.attrs, Dims(xd.begin() + 2, xd.end()), kernel, ceil_mode);
  PoolSetup p{raw.rank() > 2 ? raw : as_2d(raw), xd[0] * xd[1], {xd[0], xd[1]}};
  for (int64_t o : raw.output) p.y_dims.push_back(o);
  return p;
}

template <typename T>
void max_pool_2d(const T* x, T* y, int64_t* indices, const PoolSetup& p) {
  const WindowGeometry& g = p.g;
  const int64_t ih = g.input[0], iw = g.input[1], oh = g.output[0], ow = g.output[1];
  for (int64_t c = 0; c < p.planes; ++c) {
    const T* plane = x + c * ih * iw;
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        T best = std::numeric_limits<T>::lowest();
        int64_t best_at = -1;
        for (int64_t ki = 0; ki < g.kernel[0]; ++ki) {
          const int64_t h = i * g.strides[0] - g.pad_begin[0] + ki * g.dilations[0];
          if (h < 0 || h >= ih) continue;
          for (int64_t kj = 0; kj < g.kernel[1]; ++kj) {
            const int64_t w = j * g.strides[1] - g.pad_begin[1] + kj * g.dilations[1];
            if (w < 0 || w >= iw) continue;
            const T v = plane[h * iw + w];
            if (best_at < 0 || v > best) {
              best = v;
              best_at = h * iw + w;
            }
          }
        }
        const int64_t o = (c * oh + i) * ow + j;
        y[o] = best;
        if (indices) indices[o] = best_at < 0 ? -1 : c * ih * iw + best_at;
      }
    }
  }
}

// Calls visit(at, in_pad) for every window position of the output element `out_index`:
// `at` is the flat offset within the input plane, or -1 outside the input; `in_pad` says
// whether the position lies within the input or its begin/end padding.
template <typename Visit>
void for_each_window_position(const WindowGeometry& g, const std::vector<int64_t>& out_index, Visit&& visit) {
  const size_t rank = g.rank();
  std::vector<int64_t> k(rank, 0);
  while (true) {
    int64_t at = 0;
    bool inside = true, in_pad = true;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t i = out_index[d] * g.strides[d] - g.pad_begin[d] + k[d] * g.dilations[d];
      inside = inside && i >= 0 && i < g.input[d];
      in_pad = in_pad && i >= -g.pad_begin[d] && i < g.input[d] + g.pad_end[d];
      at = at * g.input[d] + i;
    }
    visit(inside ? at : int64_t{-1}, in_pad);
    size_t d = rank;
    while (d > 0 && ++k[d - 1] == g.kernel[d - 1]) k[--d] = 0;
    if (d == 0) return;
  }
}

template <typename T>
void pool_nd(const T* x, T* y, int64_t* indices, const PoolSetup& p, bool is_max, bool count_include_pad) {
  const WindowGeometry& g = p.g;
  const int64_t in_size = num_elements(g.input), out_size = num_elements(g.output);
  std::vector<int64_t> out_index(g.rank(), 0);
  for (int64_t c = 0; c < p.planes; ++c) {
    const T* plane = x + c * in_size;
    for (int64_t o = 0; o < out_size; ++o) {
      int64_t rest = o;
      for (size_t d = g.rank(); d-- > 0;) {
        out_index[d] = rest % g.output[d];
        rest /= g.output[d];
      }
      T best = std::numeric_limits<T>::lowest(), acc = T(0);
      int64_t best_at = -1, count = 0;
      for_each_window_position(g, out_index, [&](int64_t at, bool in_pad) {
        if (at >= 0) {
          if (best_at < 0 || plane[at] > best) {
            best = plane[at];
            best_at = at;
          }
          acc += plane[at];
          ++count;
        } else if (in_pad && count_include_pad) {
          ++count;
        }
      });
      if (is_max) {
        y[c * out_size + o] = best;
        if (indices) indices[c * out_size + o] = best_at < 0 ? -1 : c * in_size + best_at;
      } else {
        y[c * out_size + o] = count > 0 ? acc / static_cast<T>(count) : T(0);
      }
    }
  }
}

template <typename T>
void average_pool_2d(const T* x, T* y, const PoolSetup& p, bool count_include_pad) {
  const WindowGeometry& g = p.g;
  const int64_t ih = g.input[0], iw = g.input[1], oh = g.output[0], ow = g.output[1];
  for (int64_t c = 0; c < p.planes; ++c) {
    const T* plane = x + c * ih * iw;
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        T acc = T(0);
        int64_t inside = 0, padded = 0;
        for (int64_t ki = 0; ki < g.kernel[0]; ++ki) {
          const int64_t h = i * g.strides[0] - g.pad_begin[0] + ki * g.dilations[0];
          // Positions past the end padding (ceil mode) never count, even with count_include_pad.
          const bool h_in_pad = h >= -g.pad_begin[0] && h < ih + g.pad_end[0];
          for (int64_t kj = 0; kj < g.kernel[1]; ++kj) {
            const int64_t w = j * g.strides[1] - g.pad_begin[1] + kj * g.dilations[1];
            const bool w_in_pad = w >= -g.pad_begin[1] && w < iw + g.pad_end[1];
            if (h >= 0 && h < ih && w >= 0 && w < iw) {
              acc += plane[h * iw + w];
              ++inside;
            } else if (h_in_pad && w_in_pad) {
              ++padded;
            }
          }
        }
        const int64_t count = count_include_pad ? inside + padded : inside;
        y[(c * oh + i) * ow + j] = count > 0 ? acc / static_cast<T>(count) : T(0);
      }
    }
  }
}

enum class GlobalKind { kAverage, kMax };

Tensor global_pool(const Tensor& x_in, GlobalKind kind) {
  require_float(x_in, "the input");
  KILN_CHECK(x_in.rank() >= 3, "input must be [N, C, spatial...], got {}", x_in.describe());
  const Tensor x = widen_half(x_in);
  Dims y_dims(x.dims().size(), 1);
  y_dims[0] = x.dim(0);
  y_dims[1] = x.dim(1);
  const int64_t planes = y_dims[0] * y_dims[1];
  const int64_t size = planes == 0 ? 0 : x.numel() / planes;
  KILN_CHECK(size > 0, "global pooling over an empty spatial extent: {}", x_in.describe());
  Tensor y(x.dtype(), y_dims);
  dispatch_float(x.dtype(), "global pooling", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t c = 0; c < planes; ++c) {
      const T* plane = px + c * size;
      if (kind == GlobalKind::kAverage) {
        T acc = T(0);
        for (int64_t i = 0; i < size; ++i) acc += plane[i];
        py[c] = acc / static_cast<T>(size);
      } else {
        T best = plane[0];
        for (int64_t i = 1; i < size; ++i) best = plane[i] > best ? plane[i] : best;
        py[c] = best;
      }
    }
    return 0;
  });
  return narrow_to(y, x_in.dtype());
}

}  // namespace

Outputs max_pool(const ir::Node& node, const Inputs& in) {
  const Tensor& x_in = required(in, 0);
  const PoolSetup p = pool_setup(node, x_in);
  const bool want_indices = node.outputs.size() > 1 && node.outputs[1] != ir::kNoValue;
  if (want_indices && node.attrs.get_int("storage_order", 0) != 0)
    fail_with(ErrorCode::kUnimplemented, "MaxPool Indices with storage_order=1 (column major) are not supported");
  const Tensor x = widen_half(x_in);
  Tensor y(x.dtype(), p.y_dims);
  Tensor indices = want_indices ? Tensor(DType::kI64, p.y_dims) : Tensor();
  dispatch_numeric(x.dtype(), "MaxPool", [&](auto tag) {
    using T = decltype(tag);
    int64_t* idx = want_indices ? indices.data<int64_t>() : nullptr;
    if (p.nd()) pool_nd(x.data<T>(), y.data<T>(), idx, p, true, false);
    else max_pool_2d(x.data<T>(), y.data<T>(), idx, p);
    return 0;
  });
  Outputs out = {narrow_to(y, x_in.dtype())};
  if (want_indices) out.push_back(indices);
  return out;
}

Outputs average_pool(const ir::Node& node, const Inputs& in) {
  const Tensor& x_in = required(in, 0);
  require_float(x_in, "the input");
  const PoolSetup p = pool_setup(node, x_in);
  const bool include_pad = node.attrs.get_int("count_include_pad", 0) != 0;
  const Tensor x = widen_half(x_in);
  Tensor y(x.dtype(), p.y_dims);
  dispatch_float(x.dtype(), "AveragePool", [&](auto tag) {
    using T = decltype(tag);
    if (p.nd()) pool_nd(x.data<T>(), y.data<T>(), nullptr, p, false, include_pad);
    else average_pool_2d(x.data<T>(), y.data<T>(), p, include_pad);
    return 0;
  });
  return {narrow_to(y, x_in.dtype())};
}

Outputs global_average_pool(const ir::Node& n, const Inputs& in) {
  return {global_pool(required(in, 0), GlobalKind::kAverage)};
}

Outputs global_max_pool(const ir::Node& n, const Inputs& in) {
  return {global_pool(required(in, 0), GlobalKind::kMax)};
}

}  // namespace kiln::cpu
