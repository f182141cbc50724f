#include "cli/bench_timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>


namespace kiln::cli {

double percentile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const double rank = std::clamp(q, 0.0, 100.0) / 100.0 * static_cast<double>(samples.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, samples.size() - 1);
  return samples[lo] + (samples[hi] - samples[lo]) * (rank - static_cast<double>(lo));
}

LatencyStats summarize(const std::vector<double>& samples_ms) {
  LatencyStats s;
  if (samples_ms.empty()) return s;
  s.mean = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) / static_cast<double>(samples_ms.size());
  s.p50 = percentile(samples_ms, 50);
  s.p90 = percentile(samples_ms, 90);
  s.p99 = percentile(samples_ms, 99);
  return s;
}

TimingResult time_runs(ExecutionContext& context, const std::vector<Tensor>& inputs, const TimingPlan& plan) {
  using clock = std::chrono::steady_clock;
  std::vector<Tensor> outputs;
  auto run_once = [&] {
    const Status status = context.run(inputs, &outputs);
    if (!status.ok()) throw Error(status.message(), status.code());
  };
  for (int i = 0; i < plan.warmup; ++i) run_once();

  TimingResult r;
  const auto start = clock::now();
  for (int i = 0;; ++i) {
    if (plan.iterations > 0 && i >= plan.iterations) break;
    if (plan.iterations <= 0 && i >= plan.min_iterations &&
        std::chrono::duration<double>(clock::now() - start).count() >= plan.duration_s)
      break;
    const auto t0 = clock::now();
    run_once();
    r.total_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    r.compute_ms.push_back(context.last_timing().compute_ms);
  }
  r.elapsed_s = std::chrono::duration<double>(clock::now() - start).count();
  return r;
}

}  // namespace kiln::cli
