// The CPU integer oracle of the INT8 GPU tests: a graph whose nodes are convolutions
// (FusedConv with relu and/or residual, or plain Conv) and max pools between two of them,
// computed as the INT8 engine computes it (quant/int8_reference.h): the input rounded to
// fp16 and quantized, exact int32 sums, the fused-multiply-add epilogue, requantization
// between convolutions (with the pool output's scale before a max pool, which then takes
// the maximum of the INT8 values), f32 (fp16-rounded) out.
#pragma once

#include <algorithm>
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "ir/graph.h"
#include "quant/calibration.h"
#include "quant/int8_reference.h"

namespace kiln::cuda_test {

inline Tensor f16_round(const Tensor& t) { return t.cast(DType::kF16).cast(DType::kF32); }

// Max pooling of an INT8 NCHW tensor (2-D, padded positions ignored).
inline Tensor int8_max_pool(const Tensor& x, const ir::Node& pool, const Dims& out_dims) {
  const auto k = pool.attrs.get_ints("kernel_shape", {});
  const auto st = pool.attrs.get_ints("strides", {1, 1});
  const auto pads = pool.attrs.get_ints("pads", {0, 0, 0, 0});
  Tensor y(DType::kI8, out_dims);
  const int64_t n = out_dims[0], c = out_dims[1], ho = out_dims[2], wo = out_dims[3], h = x.dim(2), w = x.dim(3);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t oh = 0; oh < ho; ++oh)
        for (int64_t ow = 0; ow < wo; ++ow) {
          int m = -129;
          for (int64_t r = 0; r < k[0]; ++r)
            for (int64_t s = 0; s < k[1]; ++s) {
              const int64_t ih = oh * st[0] - pads[0] + r, iw = ow * st[1] - pads[1] + s;
              if (ih >= 0 && ih < h && iw >= 0 && iw < w)
                m = std::max<int>(m, x.data<int8_t>()[((b * c + ch) * h + ih) * w + iw]);
            }
          y.data<int8_t>()[((b * c + ch) * ho + oh) * wo + ow] = static_cast<int8_t>(m < -128 ? 0 : m);
        }
  return y;
}

// Values carry (int8 tensor, scale) between the convolutions.
inline Tensor int8_oracle(const ir::Graph& g, const quant::CalibrationTable& table, const Tensor& x) {
  struct Q {
    Tensor t;
    float scale = 1;
  };
  std::map<int, Q> q;
  const int in = g.inputs[0];
  q[in] = {quant::quantize_per_tensor(f16_round(x), table.int8_scale(g.value(in).name)),
           table.int8_scale(g.value(in).name)};
  Tensor out;
  for (const ir::Node& n : g.nodes) {
    if (n.op == "MaxPool") {
      const Q& xq = q.at(n.inputs[0]);
      const Dims& d = g.value(n.outputs[0]).dims;  // batch dynamic: the input's
      q[n.outputs[0]] = {int8_max_pool(xq.t, n, {xq.t.dim(0), d[1], d[2], d[3]}), xq.scale};
      continue;
    }
    // A convolution without activation or residual stays a plain Conv (same inputs 0-2).
    EXPECT_TRUE(n.op == "FusedConv" || n.op == "Conv") << n.name << ": " << n.op;
    const Q& xq = q.at(n.inputs[0]);
    const Tensor& w = *g.value(n.inputs[1]).constant;
    const Tensor& bias = *g.value(n.inputs[2]).constant;
    const bool has_z = n.has_input(3);
    const Q* zq = has_z ? &q.at(n.inputs[3]) : nullptr;
    const std::vector<float> sw = quant::per_channel_scales(w, 0);
    quant::ConvGeometry geo;
    geo.pads = n.attrs.get_ints("pads", {0, 0, 0, 0});
    geo.strides = n.attrs.get_ints("strides", {1, 1});
    geo.dilations = n.attrs.get_ints("dilations", {1, 1});
    const Tensor acc = quant::int8_conv_accumulate(xq.t, quant::quantize_per_channel(w, sw), geo);
    const bool relu = n.attrs.get_string("activation", "none") == "relu";
    const int y = n.outputs[0];
    const bool last = y == g.outputs[0];
    // Into a max pool: the pool output's scale (the pool passes the values through).
    const std::vector<int> readers = g.consumers(y);
    const int scale_of = readers.size() == 1 && g.nodes[readers[0]].op == "MaxPool" ? g.nodes[readers[0]].outputs[0] : y;
    const float s_y = last ? 1.0f : table.int8_scale(g.value(scale_of).name);
    const int64_t k = acc.dim(1), spatial = acc.dim(2) * acc.dim(3);
    Tensor next(last ? DType::kF32 : DType::kI8, acc.dims());
    for (int64_t e = 0; e < acc.numel(); ++e) {
      const int64_t ch = (e / spatial) % k;
      const float v = quant::int8_epilogue(acc.data<int32_t>()[e], xq.scale * sw[ch], bias.data<float>()[ch],
                                           zq ? zq->scale : 0.0f, zq ? zq->t.data<int8_t>()[e] : int8_t(0), has_z,
                                           relu);
      if (last) next.data<float>()[e] = v;
      else next.data<int8_t>()[e] = quant::quantize_int8(v, 1.0f / s_y);
    }
    if (last) out = f16_round(next);
    else q[y] = {next, s_y};
  }
  return out;
}

}  // namespace kiln::cuda_test
