#include "backends/cuda/int8/int8_lowering.h"

#include <cstdlib>
#include <cstring>

#include "quant/fp8.h"
#include "quant/int8_reference.h"

namespace kiln::cuda::int8 {

namespace {

bool conv_can_run_int8(const ir::Graph& g, const ir::Node& n, const quant::CalibrationTable& table,
                       int min_input_channels) {
  if (n.op != "Conv" && !(n.op == "FusedConv" && n.domain == "kiln")) return false;
  if (n.inputs.size() < 2 || g.value(n.inputs[0]).dims.size() != 4) return false;
  if (g.value(n.inputs[0]).dims[1] < min_input_channels) return false;
  const ir::Value& w = g.value(n.inputs[1]);
  if (!w.is_constant() || w.dtype != DType::kF32 || w.dims.size() != 4) return false;
  if (n.has_input(2) && (!g.value(n.inputs[2]).is_constant() || g.value(n.inputs[2]).dtype != DType::kF32)) return false;
  if (n.attrs.get_int("group", 1) != 1) return false;
  const auto pads = n.attrs.get_ints("pads", {0, 0, 0, 0});
  if (pads.size() != 4 || pads[0] != pads[2] || pads[1] != pads[3]) return false;
  if (n.attrs.get_ints("strides", {1, 1}).size() != 2 || n.attrs.get_ints("dilations", {1, 1}).size() != 2) return false;
  const std::string act = n.op == "FusedConv" ? n.attrs.get_string("activation", "none") : "none";
  if (act != "none" && act != "relu") return false;
  return table.thresholds.count(g.value(n.inputs[0]).name) && table.thresholds.count(g.value(n.outputs[0]).name);
}

}  // namespace

int min_int8_input_channels() {
  if (const char* env = std::getenv("KILN_INT8_MIN_CHANNELS"); env && *env) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (*end != '\0' || v < 1 || v > 65536) fail("KILN_INT8_MIN_CHANNELS=\"{}\": expected a channel count >= 1", env);
    return static_cast<int>(v);
  }
  return 16;
}

Int8Plan plan_int8_convs(const ir::Graph& g, const quant::CalibrationTable& table, int min_input_channels,
                         const std::set<std::string>* only) {
  Int8Plan plan;
  plan.conv_runs_int8.assign(g.nodes.size(), false);
  plan.value_is_int8.assign(g.values.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    plan.conv_runs_int8[i] = (!only || only->count(g.nodes[i].name)) &&
                             conv_can_run_int8(g, g.nodes[i], table, min_input_channels);
  std::vector<bool> is_output(g.values.size(), false);
  for (int v : g.outputs) is_output[v] = true;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!plan.conv_runs_int8[i]) continue;
    const int y = g.nodes[i].outputs[0];
    bool all_int8 = !is_output[y];
    for (int c : g.consumers(y)) {
      const ir::Node& consumer = g.nodes[c];
      bool as_x_or_z = consumer.inputs[0] == y || (consumer.has_input(3) && consumer.inputs[3] == y);
      for (size_t k = 0; k < consumer.inputs.size(); ++k)
        if (consumer.inputs[k] == y && k != 0 && k != 3) as_x_or_z = false;
      all_int8 = all_int8 && plan.conv_runs_int8[c] && as_x_or_z;
    }
    plan.value_is_int8[y] = all_int8;
  }
  return plan;
}

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
