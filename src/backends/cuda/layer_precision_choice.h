// `--precision best`: which convolutions run in INT8, from their timed FP16 and INT8
// tactics (host code only; the phased build is in best_build.h).
#pragma once

#include <set>
#include <string>
#include <vector>

namespace kiln::cuda {

struct ConvTiming {
  std::string node;       // the convolution's (source and lowered) node name
  double fp16_ms = -1;    // its FP16 tactic at max batch; < 0: not timed
  double int8_ms = -1;    // its INT8 tactic at max batch; < 0: not eligible or not timed
  // What converting its input to INT8 costs when the producer writes FP16 (a QuantizeInt8).
  double quantize_ms = 0;
  // The convolution writing its input, when that one is a candidate too: if it runs in INT8
  // its output can stay INT8 and no conversion is needed. Empty otherwise.
  std::string producer;
};

struct LayerChoice {
  std::string node;
  bool int8 = false;
  std::string reason;  // "fp16 0.128 ms < int8 0.461 ms"
};

// INT8 must beat FP16 by this fraction: timings scatter by a few percent, and an INT8 layer
// adds conversions at its precision boundaries that the per-layer times do not show.
inline constexpr double kInt8MinGain = 0.10;

// `convs` in execution order (a producer before its consumers). A convolution runs in INT8
// when int8_ms + boundary < fp16_ms * (1 - min_gain), where boundary is quantize_ms unless
// its producer was chosen INT8. Convolutions lacking either time stay FP16 and say why.
std::vector<LayerChoice> choose_layer_precisions(const std::vector<ConvTiming>& convs,
                                                 double min_gain = kInt8MinGain);

std::set<std::string> int8_nodes_of(const std::vector<LayerChoice>& choices);

}  // namespace kiln::cuda
