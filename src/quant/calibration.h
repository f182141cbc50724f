// Post-training calibration: run the float graph over sample inputs, collect a histogram
// of every float activation, choose per-tensor thresholds, and keep them in a
// human-readable cache file that later builds reuse without a calibration pass.
#pragma once

#include <functional>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"
#include "quant/calibrator.h"

namespace kiln::quant {

// Thresholds below this (and 0) belong to tensors that are zero in practice: they get scale
// 1, since a scale of threshold / 127 (or / 448) that small has no finite inverse.
inline constexpr float kMinThreshold = 1e-30f;

struct CalibrationTable {
  std::string calibrator;                    // "entropy", "percentile", "minmax"
  std::string graph_fingerprint;             // ties the table to one graph
  std::map<std::string, float> thresholds;   // value name -> clipping threshold (|x|)

  // Symmetric INT8 scale of a value: threshold / 127 (throws if the value is unknown; 1 below
  // kMinThreshold).
  float int8_scale(const std::string& value_name) const;
  // FP8 E4M3 scale of a value: threshold / 448 (E4M3's largest finite value), likewise.
  float fp8_scale(const std::string& value_name) const;
};

// A stable hash of the graph's structure (ops, value names, shapes, in node order).
std::string graph_fingerprint(const ir::Graph& graph);

// Text format, one threshold per line:
//   kiln-calibration 1
//   graph <fingerprint>
//   calibrator <name>
//   <threshold> <value name>
void save_calibration_cache(const CalibrationTable& table, const std::string& path);
// The file's text.
std::string format_calibration_cache(const CalibrationTable& table);
// Throws with a clear message when the file is malformed or was made for another graph.
CalibrationTable load_calibration_cache(const std::string& path, const ir::Graph& graph);
// The same for a cache's text from any stream; `origin` names it in messages.
CalibrationTable parse_calibration_cache(std::istream& in, const std::string& origin, const ir::Graph& graph);

// Supplies the next calibration batch (one tensor per graph input); false when done.
using BatchSource = std::function<bool(std::vector<Tensor>& inputs)>;

// Runs `graph` on the CPU backend over every batch from `next` and returns the thresholds
// of every float activation (graph inputs and node outputs). `progress` gets one line per batch.
CalibrationTable calibrate(const ir::Graph& graph, const BatchSource& next, CalibratorKind kind,
                           const std::function<void(const std::string&)>& progress = {});

// Per-output-channel symmetric INT8 scales of a weight tensor (max |w| / 127 along every
// axis but `axis`); channels that are all zero get scale 1.
std::vector<float> per_channel_scales(const Tensor& weights, int64_t axis = 0);

}  // namespace kiln::quant
