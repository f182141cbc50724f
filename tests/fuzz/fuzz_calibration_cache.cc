// libFuzzer target: any text given to the calibration cache parser either parses into a
// table whose every threshold is finite and non-negative, with INT8 and FP8 scales that
// are finite, positive and have finite inverses, and that saves and parses back to the same
// table; or it throws kiln::Error. It never crashes.
// Inputs whose first byte is even get a valid header for the fuzz graph put in front, so
// that the entry lines behind the header are reached (the graph fingerprint is not
// something a mutation finds).
// kiln-fuzz-libs: kiln_quant
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "core/error.h"
#include "quant/calibration.h"

namespace {

const kiln::ir::Graph& fuzz_graph() {
  static const kiln::ir::Graph g = [] {
    kiln::ir::Graph graph;
    graph.name = "fuzz";
    const int x = graph.add_value("x", kiln::DType::kF32, {kiln::kDynamic, 4});
    const int y = graph.add_value("y", kiln::DType::kF32, {kiln::kDynamic, 4});
    graph.inputs = {x};
    graph.outputs = {y};
    graph.add_node({"relu0", "Relu", "", {x}, {y}, {}});
    return graph;
  }();
  return g;
}

bool usable_scale(float scale) { return std::isfinite(scale) && scale > 0 && std::isfinite(1.0f / scale); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln::quant;
  std::string text(reinterpret_cast<const char*>(data), size);
  if (size > 0 && data[0] % 2 == 0)
    text = "kiln-calibration 1\ngraph " + graph_fingerprint(fuzz_graph()) + "\ncalibrator minmax\n" + text.substr(1);
  try {
    std::istringstream in(text);
    const CalibrationTable table = parse_calibration_cache(in, "fuzz.cache", fuzz_graph());
    for (const auto& [name, threshold] : table.thresholds) {
      if (!std::isfinite(threshold) || threshold < 0) __builtin_trap();
      if (!usable_scale(table.int8_scale(name)) || !usable_scale(table.fp8_scale(name))) __builtin_trap();
    }
    std::istringstream again(format_calibration_cache(table));
    const CalibrationTable back = parse_calibration_cache(again, "fuzz-roundtrip.cache", fuzz_graph());
    if (back.thresholds != table.thresholds || back.calibrator != table.calibrator) __builtin_trap();
  } catch (const kiln::Error&) {
  }
  return 0;
}
