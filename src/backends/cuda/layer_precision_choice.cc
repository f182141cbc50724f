#include "backends/cuda/layer_precision_choice.h"

#include <fmt/format.h>

namespace kiln::cuda {

std::vector<LayerChoice> choose_layer_precisions(const std::vector<ConvTiming>& convs, double min_gain) {
  std::vector<LayerChoice> out;
  std::set<std::string> chosen;
  for (const ConvTiming& c : convs) {
    LayerChoice choice{c.node, false, {}};
    if (c.int8_ms <= 0) {
      choice.reason = c.fp16_ms > 0 ? fmt::format("fp16 {:.3f} ms (no int8 form)", c.fp16_ms) : "fp16 (no int8 form)";
    } else if (c.fp16_ms <= 0) {
      choice.reason = fmt::format("fp16 (int8 {:.3f} ms, but no fp16 time to compare)", c.int8_ms);
    } else {
      const bool quantize = c.quantize_ms > 0 && !(!c.producer.empty() && chosen.count(c.producer));
      const double cost = c.int8_ms + (quantize ? c.quantize_ms : 0);
      const double bar = c.fp16_ms * (1 - min_gain);
      const std::string int8_text = quantize ? fmt::format("int8 {:.3f} ms + quantize {:.3f} ms", c.int8_ms, c.quantize_ms)
                                             : fmt::format("int8 {:.3f} ms", c.int8_ms);
      choice.int8 = cost < bar;
      if (choice.int8) {
        choice.reason = fmt::format("{} < fp16 {:.3f} ms", int8_text, c.fp16_ms);
      } else if (cost < c.fp16_ms) {
        choice.reason = fmt::format("fp16 {:.3f} ms (int8 faster by less than {:.0f}%: {})", c.fp16_ms, 100 * min_gain,
                                    int8_text);
      } else {
        choice.reason = fmt::format("fp16 {:.3f} ms {} {}", c.fp16_ms, c.fp16_ms < cost ? "<" : "<=", int8_text);
      }
    }
    if (choice.int8) chosen.insert(c.node);
    out.push_back(std::move(choice));
  }
  return out;
}

std::set<std::string> int8_nodes_of(const std::vector<LayerChoice>& choices) {
  std::set<std::string> out;
  for (const LayerChoice& c : choices)
    if (c.int8) out.insert(c.node);
  return out;
}

}  // namespace kiln::cuda
