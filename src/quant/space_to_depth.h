// Space-to-depth rewrite of a thin stride-2 convolution (an RGB stem such as ResNet-50's
// 7x7/2 over 3 channels), so that it runs on INT8/FP8 tensor cores.
//
// A stride-2 convolution over C channels equals a stride-1 convolution over 4C channels of
// the space-to-depth image: pixel (i, j) of that image holds the 2x2 block of the padded
// input at rows 2i, 2i+1 and columns 2j, 2j+1, as channel (2a + b) * C + c for row offset a,
// column offset b and input channel c; the filter tap (r, s) moves to tap (r/2, s/2) of a
// ceil(R/2) x ceil(S/2) filter at channel (2 (r%2) + s%2) * C + c, with zeros where 2r'+a
// or 2s'+b passes the original filter. The integer sums are the same products in another
// order, so quantized results are exactly those of the original convolution with the same
// scales. Why: tensor-core kernels reduce over at least 16 channels; 3 padded to 16 wastes
// 13/16 of the work (ResNet-50's stem took 4.3 ms in INT8 and 1.27 ms in FP16 on an H200),
// 12 padded to 16 only a quarter.
#pragma once

#include <optional>

#include "core/tensor.h"
#include "ir/graph.h"

namespace kiln::quant {

// Channels of the rewritten input: 4C padded to the 16 the tensor-core kernels reduce over.
constexpr int64_t kSpaceToDepthChannels = 16;

struct SpaceToDepthStem {
  int64_t c = 0;                    // original input channels (4c <= 16)
  int64_t pad_top = 0, pad_left = 0;  // the original convolution's leading pads
  int64_t hs = 0, ws = 0;           // space-to-depth image: ho + ceil(R/2) - 1 rows, likewise columns
  int64_t r = 0, s = 0;             // rewritten filter: ceil(R/2) x ceil(S/2)
};

// The rewrite of node `n` (Conv / kiln.FusedConv of a constant [K, C, R, S] filter) if it
// applies: 2-D, stride 2 both ways, dilation 1, group 1, symmetric pads, 4C <= 16.
std::optional<SpaceToDepthStem> space_to_depth_stem(const ir::Graph& g, const ir::Node& n);

// The rewritten filter: f32 [K, C, R, S] -> f32 [K, 16, ceil(R/2), ceil(S/2)] as above
// (channels from 4C on are zero).
Tensor space_to_depth_filter(const Tensor& weights);

}  // namespace kiln::quant
