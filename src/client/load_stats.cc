#include "client/load_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kiln::client {

std::string failure_kind_name(FailureKind kind, int http_status) {
  switch (kind) {
    case FailureKind::kNone: return "none";
    case FailureKind::kConnection: return "connection";
    case FailureKind::kTimeout: return "timeout";
    case FailureKind::kHttpStatus: return "http_" + std::to_string(http_status);
    case FailureKind::kProtocol: return "protocol";
  }
  return "unknown";
}

void LoadStats::record_success(double latency_ms) {
  ++succeeded;
  latencies_ms.push_back(latency_ms);
}

void LoadStats::record_failure(const HttpOutcome& outcome) {
  ++failed;
  ++errors_by_kind[failure_kind_name(outcome.failure, outcome.reply.status)];
  if (first_error.empty()) first_error = outcome.message;
}

void LoadStats::merge(const LoadStats& other) {
  succeeded += other.succeeded;
  failed += other.failed;
  latencies_ms.insert(latencies_ms.end(), other.latencies_ms.begin(), other.latencies_ms.end());
  for (const auto& [k, n] : other.errors_by_kind) errors_by_kind[k] += n;
  if (first_error.empty()) first_error = other.first_error;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t index = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(sorted.size()))) - 1;
  return sorted[index];
}

LatencySummary summarize_latencies(std::vector<double> latencies_ms) {
  LatencySummary s;
  if (latencies_ms.empty()) return s;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  s.min = latencies_ms.front();
  s.max = latencies_ms.back();
  s.mean = std::accumulate(latencies_ms.begin(), latencies_ms.end(), 0.0) / static_cast<double>(latencies_ms.size());
  s.p50 = percentile(latencies_ms, 50);
  s.p90 = percentile(latencies_ms, 90);
  s.p95 = percentile(latencies_ms, 95);
  s.p99 = percentile(latencies_ms, 99);
  return s;
}

}  // namespace kiln::client
