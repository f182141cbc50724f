#include "cli/bench_report.h"

#include <chrono>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kiln::cli {

namespace {

nlohmann::json stats_json(const LatencyStats& s) {
  return {{"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}};
}

std::string stats_line(const char* what, const LatencyStats& s) {
  return fmt::format("  {:<22} mean {:9.3f}  p50 {:9.3f}  p90 {:9.3f}  p99 {:9.3f}  ms\n", what, s.mean, s.p50,
                     s.p90, s.p99);
}

}  // namespace

void compute_speedups(BenchReport& report) {
  double native = 0;
  for (const ModeResult& m : report.modes)
    if (m.mode == "native" && m.ok()) native = m.throughput;
  for (ModeResult& m : report.modes) {
    if (m.ok() && native > 0) m.speedup_vs_native = m.throughput / native;
    else m.speedup_vs_native.reset();
  }
}

std::string format_mode_result(const ModeResult& r, int batch_size) {
  std::string s;
  if (!r.ok()) return fmt::format("  {}\n", r.status);
  s += "  top-5 predictions for the image:\n";
  for (size_t i = 0; i < r.top5.size(); ++i)
    s += fmt::format("    {}. {:.4f}  class {:<4}  {}\n", i + 1, r.top5[i].prob, r.top5[i].class_index,
                     r.top5[i].label);
  s += fmt::format("  build                  {:.2f} s\n", r.build_s);
  s += fmt::format("  throughput             {:.1f} images/s  ({} timed batches of {})\n", r.throughput,
                   r.iterations, batch_size);
  s += stats_line("latency, end to end", r.latency);
  if (r.compute) s += stats_line("latency, compute", *r.compute);
  if (r.speedup_vs_native) s += fmt::format("  speedup vs native      {:.2f}x\n", *r.speedup_vs_native);
  if (r.agreement_vs_fp32) s += fmt::format("  vs fp32                {}\n", format_agreement(*r.agreement_vs_fp32));
  else if (!r.agreement_status.empty()) s += fmt::format("  vs fp32                {}\n", r.agreement_status);
  return s;
}

std::string format_comparison_table(const BenchReport& report) {
  std::string s = fmt::format("{:<8} {:>12} {:>10} {:>10} {:>10} {:>10} {:>12} {:>9}  {}\n", "mode", "images/s",
                              "mean ms", "p50 ms", "p90 ms", "p99 ms", "compute p50", "speedup", "top-1");
  for (const ModeResult& m : report.modes) {
    if (!m.ok()) {
      s += fmt::format("{:<8} {}\n", m.mode, m.status);
      continue;
    }
    const std::string compute = m.compute ? fmt::format("{:.3f}", m.compute->p50) : "-";
    const std::string speedup = m.speedup_vs_native ? fmt::format("{:.2f}x", *m.speedup_vs_native) : "-";
    const std::string top1 =
        m.top5.empty() ? "-" : fmt::format("{} ({:.3f})", m.top5[0].label, m.top5[0].prob);
    s += fmt::format("{:<8} {:>12.1f} {:>10.3f} {:>10.3f} {:>10.3f} {:>10.3f} {:>12} {:>9}  {}\n", m.mode,
                     m.throughput, m.latency.mean, m.latency.p50, m.latency.p90, m.latency.p99, compute, speedup,
                     top1);
  }
  return s;
}

std::string report_to_json(const BenchReport& report) {
  nlohmann::json modes = nlohmann::json::array();
  for (const ModeResult& m : report.modes) {
    nlohmann::json j = {{"mode", m.mode}, {"status", m.status}};
    if (m.ok()) {
      nlohmann::json top = nlohmann::json::array();
      for (const Prediction& p : m.top5) top.push_back({{"class", p.class_index}, {"label", p.label}, {"prob", p.prob}});
      j["top5"] = top;
      j["throughput"] = m.throughput;
      j["latency_ms"] = stats_json(m.latency);
      j["compute_ms"] = m.compute ? stats_json(*m.compute) : nlohmann::json(nullptr);
      j["build_s"] = m.build_s;
      j["iterations"] = m.iterations;
    } else {
      j["top5"] = nlohmann::json::array();
      j["throughput"] = nullptr;
      j["latency_ms"] = nullptr;
      j["compute_ms"] = nullptr;
    }
    j["speedup_vs_native"] = m.speedup_vs_native ? nlohmann::json(*m.speedup_vs_native) : nlohmann::json(nullptr);
    j["agreement_vs_fp32"] = m.agreement_vs_fp32 ? agreement_to_json(*m.agreement_vs_fp32) : nlohmann::json(nullptr);
    modes.push_back(std::move(j));
  }
  nlohmann::json root = {{"model", report.model},   {"device", report.device}, {"batch_size", report.batch_size},
                         {"date", report.date},     {"command", report.command}, {"modes", modes}};
  // Labels come from user files; invalid UTF-8 is replaced rather than failing the report.
  return root.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string utc_timestamp_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace kiln::cli
