// The CPU integer oracle of the INT8 GPU tests: a graph whose nodes are all convolutions
// (FusedConv with relu and/or residual, or plain Conv), computed as the INT8 engine computes
// it (quant/int8_reference.h): the input rounded to fp16 and quantized, exact int32 sums, the
// fused-multiply-add epilogue, requantization between convolutions, f32 (fp16-rounded) out.
#pragma once

#include <map>

#include <gtest/gtest.h>

#include "ir/graph.h"
#include "quant/calibration.h"
#include "quant/int8_reference.h"

namespace kiln::cuda_test {

inline Tensor f16_round(const Tensor& t) { return t.cast(DType::kF16).cast(DType::kF32); }

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
    const float s_y = last ? 1.0f : table.int8_scale(g.value(y).name);
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
