#include "backends/cuda/op_profiler.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>

namespace kiln::cuda {

bool profiling_requested() {
  const char* v = std::getenv("KILN_PROFILE");
  return v && *v && std::strcmp(v, "0") != 0;
}

OpProfiler::~OpProfiler() {
  for (cudaEvent_t e : events_)
    if (e) cudaEventDestroy(e);
}

void OpProfiler::init(size_t n_ops) {
  events_.assign(n_ops + 1, nullptr);
  for (cudaEvent_t& e : events_) KILN_CUDA_CALL("creating profiling events", cudaEventCreate(&e));
}

void OpProfiler::mark(size_t index, cudaStream_t stream) {
  KILN_CUDA_CALL("profiling", cudaEventRecord(events_.at(index), stream));
}

void OpProfiler::collect(int batch) {
  if (seen_[batch]++ == 0) return;
  Totals& t = totals_[batch];
  t.ms.resize(events_.size() - 1, 0.0);
  for (size_t i = 0; i + 1 < events_.size(); ++i) {
    float ms = 0;
    KILN_CUDA_CALL("profiling", cudaEventElapsedTime(&ms, events_[i], events_[i + 1]));
    t.ms[i] += ms;
  }
  ++t.runs;
}

std::string OpProfiler::report(const DeviceProgram& program) const {
  constexpr size_t kTopOps = 30;
  std::string out;
  for (const auto& [batch, t] : totals_) {
    if (t.runs == 0) continue;
    const double total = std::accumulate(t.ms.begin(), t.ms.end(), 0.0) / t.runs;
    out += fmt::format("kiln profile: batch {}, {} runs, {:.3f} ms GPU per run over {} ops\n", batch, t.runs, total,
                       t.ms.size());
    std::map<std::string, std::pair<double, int>> by_type;
    std::vector<size_t> order(t.ms.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t.ms[a] > t.ms[b]; });
    for (size_t i = 0; i < order.size(); ++i) {
      const size_t op = order[i];
      const double ms = t.ms[op] / t.runs;
      const std::string& label = program.ops[op]->label();
      const size_t open = label.rfind('(');
      auto& type = by_type[open == std::string::npos ? label : label.substr(open)];
      type.first += ms;
      ++type.second;
      if (i < kTopOps)
        out += fmt::format("  {:8.3f} ms {:5.1f}%  #{:<4} {}\n", ms, total > 0 ? 100 * ms / total : 0.0, op, label);
    }
    std::vector<std::pair<std::string, std::pair<double, int>>> types(by_type.begin(), by_type.end());
    std::sort(types.begin(), types.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
    out += "  by op type:\n";
    for (const auto& [type, v] : types)
      out += fmt::format("  {:8.3f} ms {:5.1f}%  {} x{}\n", v.first, total > 0 ? 100 * v.first / total : 0.0, type,
                         v.second);
  }
  return out;
}

}  // namespace kiln::cuda
