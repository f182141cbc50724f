// Drives a server with one prepared request, bounded in time, like perf_analyzer:
//   closed loop — N connections, each sending its next request when the last one answered;
//   open loop   — requests at R per second (constant spacing or Poisson arrivals), sent by a
//                 pool of connections. Latency is measured from each request's scheduled
//                 time, so a server that falls behind shows its queueing instead of
//                 slowing the load down (no coordinated omission).
// Requests that complete during the warm-up are not counted; neither are those still in
// flight when the measured window closes (reported as unfinished). The run stops by
// itself after warm-up + duration + at most one request timeout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/http_connection.h"
#include "client/load_stats.h"
#include "client/server_url.h"

namespace kiln::client {

enum class Distribution { kConstant, kPoisson };
Distribution parse_distribution(const std::string& text);  // "constant" | "poisson"

// Send times, in seconds from the start, of the requests of an open-loop run: every
// 1/rate for constant, exponential gaps of mean 1/rate for Poisson (seeded). All < duration.
std::vector<double> arrival_times(double rate, Distribution distribution, double duration_s, uint64_t seed);

struct LoadOptions {
  ServerUrl url;
  HttpRequestSpec request;
  int64_t images_per_request = 1;
  int concurrency = 1;          // closed loop (when request_rate == 0)
  double request_rate = 0;      // > 0: open loop at this many requests per second
  Distribution distribution = Distribution::kConstant;
  int max_connections = 32;     // open loop: connections (and threads) sending
  double duration_s = 10;
  double warmup_s = 0;
  double timeout_s = 10;
  uint64_t seed = 1;
};

struct LoadResult {
  LoadStats stats;              // requests completed inside the measured window
  double window_s = 0;          // length of the measured window
  int64_t warmup_requests = 0;  // completed during warm-up, not counted
  int64_t unfinished = 0;       // in flight when the window closed, not counted
  double elapsed_s = 0;         // the whole run, warm-up and draining included
};

// Throws kiln::Error for invalid options; request failures are counted, never thrown.
LoadResult run_load(const LoadOptions& options);

// The report: options, throughput (requests/s and images/s), latency percentiles (ms),
// error counts by kind.
nlohmann::json load_report_json(const LoadOptions& options, const LoadResult& result);
std::string load_report_text(const LoadOptions& options, const LoadResult& result);

}  // namespace kiln::client
