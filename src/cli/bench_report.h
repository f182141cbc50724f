// What `kiln bench` measured, and the text and JSON forms it is reported in.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/agreement.h"
#include "cli/bench_timing.h"
#include "cli/classify.h"

namespace kiln::cli {

struct ModeResult {
  std::string mode;                 // "native", "fp32", "fp16" ...
  std::string status = "ok";        // "ok", "skipped: <reason>" or "failed: <reason>"
  std::vector<Prediction> top5;     // for the benchmark image
  double build_s = 0;
  int iterations = 0;
  double throughput = 0;            // images per second
  LatencyStats latency;             // per batch, end to end (wall clock)
  std::optional<LatencyStats> compute;  // per batch, device compute; absent if the backend reports none
  std::optional<double> speedup_vs_native;
  // Reduced precisions: agreement with the FP32 engine over the evaluation photos.
  std::optional<Agreement> agreement_vs_fp32;
  std::string agreement_status;     // why there is none, when it was asked for but failed
  bool ok() const { return status == "ok"; }
};

struct BenchReport {
  std::string model;
  std::string device;
  int batch_size = 1;
  std::string date;     // ISO 8601, UTC
  std::string command;  // the command line as typed
  std::vector<ModeResult> modes;
};

// Fills speedup_vs_native of every measured mode from the native mode's throughput.
void compute_speedups(BenchReport& report);

// The per-mode block printed after each mode finishes.
std::string format_mode_result(const ModeResult& r, int batch_size);
// The side-by-side table of all modes.
std::string format_comparison_table(const BenchReport& report);

// results.json: {"model","device","batch_size","date","command","modes":[{"mode","status",
// "top5":[{"class","label","prob"}],"throughput","latency_ms":{"mean","p50","p90","p99"},
// "compute_ms":{...} or null,"speedup_vs_native" or null, "build_s", "iterations",
// "agreement_vs_fp32":{"images","top1_agree","top1_agreement","top5_overlap",
// "logits_rel_l2_mean","logits_rel_l2_max"} or null}]}
std::string report_to_json(const BenchReport& report);

// Current time as "2025-01-31T12:34:56Z".
std::string utc_timestamp_now();

}  // namespace kiln::cli
