// Build-time tactic selection: device buffers at the engine's max batch for timing candidate
// implementations, and a timing cache file so rebuilding the same model on the same GPU and
// libraries does not time again.
//
// Cache file: one entry per line, "key<TAB>json", where key names the GPU, the library
// versions, the op, its shapes, dtype and memory order. Unknown or damaged lines are skipped
// (the cache only saves time; it never changes results).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/cuda/device_program.h"

namespace kiln::cuda {

// Batch sizes tactics are timed at: powers of 4 below the max batch, and the max batch.
// A run at batch n uses the tactic of the smallest of these >= n, because a cuDNN
// algorithm that is fastest (or even valid) at 256 images is often not at 8.
std::vector<int> tactic_batches(int max_batch);
// Index into `batches` (ascending) of the bucket that serves `batch`.
size_t tactic_bucket(const std::vector<int>& batches, int batch);

struct TacticTimer {
  RunState state;               // buffers for every value at the max batch; ops set state.batch
  std::vector<int> batches;     // tactic_batches(max batch)
  std::string device_key;       // DeviceInfo::tactic_key()
  size_t workspace_limit = 0;   // candidates needing more scratch than this are skipped
  std::map<std::string, nlohmann::json> cache;
  bool cache_dirty = false;

  // Median milliseconds of `enqueue` on state.stream over a few runs after a warm-up;
  // throws (from enqueue) if the candidate fails.
  double time_ms(const std::function<void()>& enqueue, int repeats = 5);

  const nlohmann::json* lookup(const std::string& key) const;
  void store(const std::string& key, nlohmann::json value);
};

std::map<std::string, nlohmann::json> load_timing_cache(const std::string& path);
// Writes the cache atomically (temp file + rename); throws naming the path on failure.
void save_timing_cache(const std::string& path, const std::map<std::string, nlohmann::json>& cache);

}  // namespace kiln::cuda
