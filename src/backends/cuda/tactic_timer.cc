#include "backends/cuda/tactic_timer.h"

#include "backends/cuda/kernels/gpu_delay.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace kiln::cuda {

std::vector<int> tactic_batches(int max_batch) {
  std::vector<int> out;
  for (int b = 1; b < max_batch; b *= 4) out.push_back(b);
  out.push_back(std::max(max_batch, 1));
  return out;
}

size_t tactic_bucket(const std::vector<int>& batches, int batch) {
  for (size_t i = 0; i < batches.size(); ++i)
    if (batches[i] >= batch) return i;
  return batches.empty() ? 0 : batches.size() - 1;
}

// Longer than any candidate's host-side enqueue (cuDNN's legacy API: up to ~70 us).
constexpr double kHostOverheadCoverUs = 250.0;

double TacticTimer::time_ms(const std::function<void()>& enqueue, int repeats) {
  const char* where = "tactic timing";
  cudaEvent_t start = nullptr, stop = nullptr;
  KILN_CUDA_CALL(where, cudaEventCreate(&start));
  KILN_CUDA_CALL(where, cudaEventCreate(&stop));
  std::vector<double> times;
  try {
    enqueue();  // warm-up: lazy library initialization stays out of the numbers
    KILN_CUDA_CALL(where, cudaStreamSynchronize(state.stream));
    for (int r = 0; r < repeats; ++r) {
      // The GPU waits while the host enqueues the candidate: only GPU time is measured.
      KILN_CUDA_CALL(where, kernels::gpu_delay(kHostOverheadCoverUs, state.stream));
      KILN_CUDA_CALL(where, cudaEventRecord(start, state.stream));
      enqueue();
      KILN_CUDA_CALL(where, cudaEventRecord(stop, state.stream));
      KILN_CUDA_CALL(where, cudaEventSynchronize(stop));
      float ms = 0;
      KILN_CUDA_CALL(where, cudaEventElapsedTime(&ms, start, stop));
      times.push_back(ms);
    }
  } catch (...) {
    cudaStreamSynchronize(state.stream);
    cudaGetLastError();  // a failed candidate must not poison the next one
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    throw;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

const nlohmann::json* TacticTimer::lookup(const std::string& key) const {
  auto it = cache.find(device_key + "|" + key);
  return it == cache.end() ? nullptr : &it->second;
}

void TacticTimer::store(const std::string& key, nlohmann::json value) {
  cache[device_key + "|" + key] = std::move(value);
  cache_dirty = true;
}

std::map<std::string, nlohmann::json> load_timing_cache(const std::string& path) {
  std::map<std::string, nlohmann::json> cache;
  std::ifstream in(path);
  if (!in) return cache;  // no cache yet: every tactic gets timed
  std::string line;
  while (std::getline(in, line)) {
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    nlohmann::json value = nlohmann::json::parse(line.substr(tab + 1), nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) continue;
    cache[line.substr(0, tab)] = std::move(value);
  }
  return cache;
}

void save_timing_cache(const std::string& path, const std::map<std::string, nlohmann::json>& cache) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) fail("timing cache {}: cannot write {}", path, tmp);
    for (const auto& [key, value] : cache) out << key << '\t' << value.dump() << '\n';
    if (!out) fail("timing cache {}: write failed", path);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail("timing cache {}: cannot replace it: {}", path, ec.message());
}

}  // namespace kiln::cuda
