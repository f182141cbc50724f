// Timing loops and latency statistics for `kiln bench`.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "engine/engine.h"

namespace kiln::cli {

struct LatencyStats {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;  // milliseconds
};

// Percentile q in [0, 100] of the samples by linear interpolation between closest ranks
// (numpy's default), so p50 of an even count is the mean of the two middle samples.
double percentile(std::vector<double> samples, double q);
LatencyStats summarize(const std::vector<double>& samples_ms);

struct TimingPlan {
  int warmup = 5;         // untimed runs first: lazy allocation, cuDNN/cuBLAS heuristics, caches
  int iterations = 0;     // timed runs; 0 = run for `duration_s`
  double duration_s = 0;  // with iterations == 0: at least this long (and at least min_iterations runs)
  int min_iterations = 5;
};

struct TimingResult {
  std::vector<double> total_ms;    // wall clock per run() call: end to end, copies included
  std::vector<double> compute_ms;  // the backend's own compute time per run (0 if it reports none)
  double elapsed_s = 0;            // wall clock of the whole timed loop
};

// Runs `context` on `inputs` per the plan; throws kiln::Error when a run fails.
TimingResult time_runs(ExecutionContext& context, const std::vector<Tensor>& inputs, const TimingPlan& plan);

}  // namespace kiln::cli
