#include "server/metrics.h"

#include <charconv>
#include <cmath>

namespace kiln::server {

namespace {

const std::vector<double>& latency_bounds() {
  static const std::vector<double> b = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                        0.1,    0.2,   0.5,   1,     2,    5,    10};
  return b;
}
const std::vector<double>& batch_bounds() {
  static const std::vector<double> b = {1, 2, 4, 8, 16, 32, 64, 128, 256};
  return b;
}

void append_number(std::string& out, double v) {
  if (std::isinf(v)) { out.append(v > 0 ? "+Inf" : "-Inf"); return; }
  if (std::isnan(v)) { out.append("NaN"); return; }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

std::string join_labels(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return std::string(a) + "," + std::string(b);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  uint64_t cumulative = 0;
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    std::string le = "le=\"";
    if (i < bounds_.size()) {
      std::string num;
      append_number(num, bounds_[i]);
      le += num;
    } else {
      le += "+Inf";
    }
    le += "\"";
    append_sample(out, bucket, join_labels(labels, le), static_cast<double>(cumulative));
  }
  append_sample(out, std::string(name) + "_sum", labels, sum_);
  append_sample(out, std::string(name) + "_count", labels, static_cast<double>(count_));
}

void append_sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  out.append(name);
  if (!labels.empty()) {
    out.push_back('{');
    out.append(labels);
    out.push_back('}');
  }
  out.push_back(' ');
  append_number(out, value);
  out.push_back('\n');
}

std::string label(std::string_view key, std::string_view value) {
  std::string s(key);
  s += "=\"";
  for (char c : value) {
    if (c == '\\') s += "\\\\";
    else if (c == '"') s += "\\\"";
    else if (c == '\n') s += "\\n";
    else s += c;
  }
  s += '"';
  return s;
}

void ServerMetrics::count_request(const std::string& model, const std::string& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{model, outcome}];
}

void ServerMetrics::observe_latency(const std::string& model, const std::string& stage, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = latency_.try_emplace({model, stage}, latency_bounds()).first;
  it->second.observe(seconds);
}

void ServerMetrics::observe_batch_size(const std::string& model, int64_t rows) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = batch_sizes_.try_emplace(model, batch_bounds()).first;
  it->second.observe(static_cast<double>(rows));
}

void ServerMetrics::render(std::string& out) const {
  std::lock_guard<std::mutex> lock(mu_);
  out += "# HELP kiln_requests_total Inference requests by model and outcome.\n";
  out += "# TYPE kiln_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    append_sample(out, "kiln_requests_total", label("model", key.first) + "," + label("outcome", key.second),
                  static_cast<double>(n));
  out += "# HELP kiln_request_latency_seconds Request latency by stage (queue, compute, total).\n";
  out += "# TYPE kiln_request_latency_seconds histogram\n";
  for (const auto& [key, h] : latency_)
    h.render(out, "kiln_request_latency_seconds", label("model", key.first) + "," + label("stage", key.second));
  out += "# HELP kiln_batch_size Rows per executed batch.\n";
  out += "# TYPE kiln_batch_size histogram\n";
  for (const auto& [model, h] : batch_sizes_) h.render(out, "kiln_batch_size", label("model", model));
}

}  // namespace kiln::server
