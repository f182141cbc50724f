// What a load run measured: per-request latencies of the successes, failures counted by
// kind ("connection", "timeout", "protocol", "http_503" ...), and the summary numbers a
// perf_analyzer user looks for (throughput, p50/p90/p95/p99).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/http_connection.h"

namespace kiln::client {

// The name a failure is counted under.
std::string failure_kind_name(FailureKind kind, int http_status);

struct LoadStats {
  int64_t succeeded = 0;
  int64_t failed = 0;
  std::vector<double> latencies_ms;  // successes only
  std::map<std::string, int64_t> errors_by_kind;
  std::string first_error;

  void record_success(double latency_ms);
  void record_failure(const HttpOutcome& outcome);
  void merge(const LoadStats& other);
};

// Nearest-rank percentile (the smallest value with at least p% of the values at or below
// it) of `sorted`, ascending; 0 for an empty list. p in (0, 100].
double percentile(const std::vector<double>& sorted, double p);

struct LatencySummary {
  double mean = 0, min = 0, max = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0;
};
LatencySummary summarize_latencies(std::vector<double> latencies_ms);

}  // namespace kiln::client
