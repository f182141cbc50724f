#include "quant/calibration.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "backends/cpu/cpu_backend.h"
#include "quant/histogram.h"

namespace kiln::quant {

namespace {

// threshold / largest code, or 1 for a tensor that is zero in practice (see kMinThreshold).
float scale_of(const std::map<std::string, float>& thresholds, const std::string& value_name, float largest) {
  auto it = thresholds.find(value_name);
  if (it == thresholds.end()) fail("calibration table has no entry for tensor '{}'", value_name);
  return it->second >= kMinThreshold ? it->second / largest : 1.0f;
}

}  // namespace

float CalibrationTable::int8_scale(const std::string& value_name) const { return scale_of(thresholds, value_name, 127.0f); }

float CalibrationTable::fp8_scale(const std::string& value_name) const { return scale_of(thresholds, value_name, 448.0f); }

std::string graph_fingerprint(const ir::Graph& graph) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) { h ^= c; h *= 1099511628211ull; }
    h ^= 0xff; h *= 1099511628211ull;
  };
  for (const ir::Node& n : graph.nodes) {
    mix(n.op);
    for (int v : n.inputs) mix(v == ir::kNoValue ? "-" : graph.value(v).name);
    for (int v : n.outputs) mix(graph.value(v).name + dims_to_string(graph.value(v).dims));
  }
  for (int v : graph.inputs) mix(graph.value(v).name + dims_to_string(graph.value(v).dims));
  return fmt::format("{:016x}", h);
}

std::string format_calibration_cache(const CalibrationTable& table) {
  std::string text = fmt::format("kiln-calibration 1\ngraph {}\ncalibrator {}\n", table.graph_fingerprint,
                                 table.calibrator);
  for (const auto& [name, threshold] : table.thresholds) text += fmt::format("{:.9g} {}\n", threshold, name);
  return text;
}

void save_calibration_cache(const CalibrationTable& table, const std::string& path) {
  std::ofstream out(path);
  if (!out) fail("{}: cannot write the calibration cache", path);
  out << format_calibration_cache(table);
  if (!out) fail("{}: write failed", path);
}

CalibrationTable load_calibration_cache(const std::string& path, const ir::Graph& graph) {
  std::ifstream in(path);
  if (!in) fail_with(ErrorCode::kNotFound, "{}: calibration cache not found", path);
  return parse_calibration_cache(in, path, graph);
}

CalibrationTable parse_calibration_cache(std::istream& in, const std::string& origin, const ir::Graph& graph) {
  CalibrationTable table;
  std::string line;
  int line_no = 0;
  auto expect_header = [&](const std::string& key) {
    ++line_no;
    if (!std::getline(in, line) || line.rfind(key + " ", 0) != 0)
      fail("{}:{}: not a kiln calibration cache (expected '{} ...')", origin, line_no, key);
    return line.substr(key.size() + 1);
  };
  if (expect_header("kiln-calibration") != "1") fail("{}: unsupported calibration cache version", origin);
  table.graph_fingerprint = expect_header("graph");
  table.calibrator = expect_header("calibrator");
  const std::string expected = graph_fingerprint(graph);
  if (table.graph_fingerprint != expected)
    fail("{}: calibration cache was made for another graph (fingerprint {}, this graph is {}); "
         "delete it or pass a new --calib-cache path to recalibrate", origin, table.graph_fingerprint, expected);
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    float threshold = 0;
    std::string name;
    if (!(fields >> threshold) || !std::getline(fields >> std::ws, name) || name.empty() ||
        !std::isfinite(threshold) || threshold < 0)
      fail("{}:{}: malformed entry '{}' (expected '<threshold> <tensor name>')", origin, line_no, line);
    table.thresholds[name] = threshold;
  }
  return table;
}

CalibrationTable calibrate(const ir::Graph& graph, const BatchSource& next, CalibratorKind kind,
                           const std::function<void(const std::string&)>& progress) {
  // Observe every float activation by making it a graph output.
  ir::Graph observed = graph;
  std::vector<int> watched;
  for (int v : graph.inputs)
    if (graph.value(v).dtype == DType::kF32) watched.push_back(v);
  for (const ir::Node& n : graph.nodes)
    for (int v : n.outputs)
      if (graph.value(v).dtype == DType::kF32 && !graph.value(v).is_constant()) watched.push_back(v);
  observed.outputs.clear();
  for (int v : watched)
    if (std::find(graph.inputs.begin(), graph.inputs.end(), v) == graph.inputs.end()) observed.outputs.push_back(v);

  std::map<int, AbsHistogram> histograms;
  std::vector<Tensor> inputs;
  int batches = 0;
  const auto start = std::chrono::steady_clock::now();
  while (next(inputs)) {
    std::vector<Tensor> outputs = cpu::run_graph(observed, inputs);
    for (size_t i = 0; i < graph.inputs.size() && i < inputs.size(); ++i)
      if (inputs[i].dtype() == DType::kF32) histograms[graph.inputs[i]].add(inputs[i].span<float>());
    for (size_t i = 0; i < observed.outputs.size(); ++i)
      histograms[observed.outputs[i]].add(outputs[i].span<float>());
    ++batches;
    if (progress) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      progress(fmt::format("calibration batch {} done ({:.1f} s, {} tensors observed)", batches, s, histograms.size()));
    }
  }
  if (batches == 0) fail("calibration data is empty: no batch to calibrate with");

  CalibrationTable table;
  table.calibrator = calibrator_name(kind);
  table.graph_fingerprint = graph_fingerprint(graph);
  for (auto& [v, h] : histograms) table.thresholds[graph.value(v).name] = threshold_for(kind, h);
  return table;
}

std::vector<float> per_channel_scales(const Tensor& weights, int64_t axis) {
  const Tensor w = weights.dtype() == DType::kF32 ? weights : weights.cast(DType::kF32);
  axis = normalize_axis(axis, w.rank());
  const int64_t channels = w.dims()[axis];
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < w.rank(); ++d) inner *= w.dims()[d];
  const int64_t outer = channels ? w.numel() / (channels * inner) : 0;
  std::vector<float> max_abs(static_cast<size_t>(channels), 0.0f);
  const float* data = w.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i)
        max_abs[c] = std::max(max_abs[c], std::fabs(data[(o * channels + c) * inner + i]));
  std::vector<float> scales(max_abs.size());
  for (size_t c = 0; c < scales.size(); ++c) scales[c] = max_abs[c] > 0 ? max_abs[c] / 127.0f : 1.0f;
  return scales;
}

}  // namespace kiln::quant
