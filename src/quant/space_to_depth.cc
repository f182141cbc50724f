#include "quant/space_to_depth.h"

#include <vector>

namespace kiln::quant {

std::optional<SpaceToDepthStem> space_to_depth_stem(const ir::Graph& g, const ir::Node& n) {
  if (n.op != "Conv" && !(n.op == "FusedConv" && n.domain == "kiln")) return std::nullopt;
  if (n.inputs.size() < 2) return std::nullopt;
  const ir::Value& x = g.value(n.inputs[0]);
  const ir::Value& w = g.value(n.inputs[1]);
  const ir::Value& y = g.value(n.outputs.at(0));
  if (x.dims.size() != 4 || w.dims.size() != 4 || y.dims.size() != 4 || !w.is_constant()) return std::nullopt;
  const int64_t c = x.dims[1];
  if (c < 1 || 4 * c > kSpaceToDepthChannels || w.dims[1] != c) return std::nullopt;
  if (n.attrs.get_int("group", 1) != 1) return std::nullopt;
  if (n.attrs.get_ints("strides", {1, 1}) != std::vector<int64_t>{2, 2}) return std::nullopt;
  if (n.attrs.get_ints("dilations", {1, 1}) != std::vector<int64_t>{1, 1}) return std::nullopt;
  const auto pads = n.attrs.get_ints("pads", {0, 0, 0, 0});
  if (pads.size() != 4 || pads[0] != pads[2] || pads[1] != pads[3] || pads[0] < 0 || pads[1] < 0) return std::nullopt;
  const int64_t ho = y.dims[2], wo = y.dims[3];
  if (ho < 1 || wo < 1) return std::nullopt;
  SpaceToDepthStem stem;
  stem.c = c;
  stem.pad_top = pads[0];
  stem.pad_left = pads[1];
  stem.r = (w.dims[2] + 1) / 2;
  stem.s = (w.dims[3] + 1) / 2;
  stem.hs = ho + stem.r - 1;
  stem.ws = wo + stem.s - 1;
  return stem;
}

Tensor space_to_depth_filter(const Tensor& weights) {
  const Tensor w = weights.dtype() == DType::kF32 ? weights : weights.cast(DType::kF32);
  KILN_CHECK(w.rank() == 4 && 4 * w.dim(1) <= kSpaceToDepthChannels, "space-to-depth filter of {}",
             dims_to_string(w.dims()));
  const int64_t k = w.dim(0), c = w.dim(1), r = w.dim(2), s = w.dim(3);
  const int64_t r2 = (r + 1) / 2, s2 = (s + 1) / 2, c2 = kSpaceToDepthChannels;
  std::vector<float> out(static_cast<size_t>(k * c2 * r2 * s2), 0.0f);
  const float* src = w.data<float>();
  for (int64_t ik = 0; ik < k; ++ik)
    for (int64_t ic = 0; ic < c; ++ic)
      for (int64_t ir = 0; ir < r; ++ir)
        for (int64_t is = 0; is < s; ++is) {
          const int64_t ch = (2 * (ir % 2) + is % 2) * c + ic;
          out[static_cast<size_t>(((ik * c2 + ch) * r2 + ir / 2) * s2 + is / 2)] =
              src[((ik * c + ic) * r + ir) * s + is];
        }
  return Tensor::from_vector<float>({k, c2, r2, s2}, out);
}

}  // namespace kiln::quant
