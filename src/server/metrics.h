// Server metrics in Prometheus text exposition format (version 0.0.4), written by hand
// because prometheus-cpp is not packaged in Debian 12.
//
// Families are fixed (see docs/serving.md): request counts by model and outcome, latency
// histograms per stage, batch sizes; gauges that are owned elsewhere (queue depth, model
// state, GPU counters) are appended at render time by the callers of `render`.
// Thread-safe: one short mutex per observation, far below the cost of a request.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // Appends the _bucket/_sum/_count lines for `name` with extra `labels` ("k=\"v\"").
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // cumulative at render time; per bucket here
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Formats "name{labels} value\n"; labels may be empty.
void append_sample(std::string& out, std::string_view name, std::string_view labels, double value);
// `key="value"` with the value escaped as Prometheus requires.
std::string label(std::string_view key, std::string_view value);

class ServerMetrics {
 public:
  // outcome: "success", "client_error", "rejected" (queue full / timed out), "server_error".
  void count_request(const std::string& model, const std::string& outcome);
  // stage: "queue", "compute", "total".
  void observe_latency(const std::string& model, const std::string& stage, double seconds);
  void observe_batch_size(const std::string& model, int64_t rows);
  // The families owned here, with HELP/TYPE lines.
  void render(std::string& out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, Histogram> latency_;
  std::map<std::string, Histogram> batch_sizes_;
};

}  // namespace kiln::server
