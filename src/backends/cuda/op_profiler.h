// Per-op GPU time of an execution context, for finding where a model's time goes.
// Turned on by the environment variable KILN_PROFILE=1 (read when a context is created):
// the context then runs op by op (no CUDA graph), records an event between consecutive
// ops, and when it is destroyed prints, per batch size, the ops by total GPU time and the
// time per op type to stderr. The first run at each batch size is left out (lazy library
// initialization).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "backends/cuda/device_program.h"

namespace kiln::cuda {

bool profiling_requested();

class OpProfiler {
 public:
  OpProfiler() = default;
  ~OpProfiler();
  OpProfiler(const OpProfiler&) = delete;
  OpProfiler& operator=(const OpProfiler&) = delete;

  // Creates n_ops + 1 events; throws naming the failed CUDA call.
  void init(size_t n_ops);
  // Marks the start of op `index` (index == n_ops marks the end of the last op).
  void mark(size_t index, cudaStream_t stream);
  // After the stream finished: adds this run's per-op times to `batch`'s totals.
  void collect(int batch);
  // The report described above; empty when nothing was collected.
  std::string report(const DeviceProgram& program) const;

 private:
  struct Totals {
    int runs = 0;
    std::vector<double> ms;  // per op, summed over runs
  };
  std::vector<cudaEvent_t> events_;
  std::map<int, int> seen_;  // runs per batch, the first one skipped
  std::map<int, Totals> totals_;
};

}  // namespace kiln::cuda
