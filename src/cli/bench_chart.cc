#include "cli/bench_chart.h"

#include <algorithm>

#include <fmt/format.h>

namespace kiln::cli {

namespace {

constexpr int kWidth = 900;
constexpr int kLabelWidth = 110;  // mode names left of the bars
constexpr int kBarArea = 600;
constexpr int kRowHeight = 30;
constexpr int kBarHeight = 20;

const char* color_of(const std::string& mode) {
  if (mode == "native") return "#7f7f7f";
  if (mode == "fp32") return "#1f77b4";
  if (mode == "tf32") return "#17becf";
  if (mode == "fp16") return "#2ca02c";
  if (mode == "bf16") return "#bcbd22";
  if (mode == "int8") return "#d62728";
  if (mode == "fp8") return "#9467bd";
  return "#ff7f0e";
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string text(int x, int y, const std::string& s, const char* extra = "") {
  return fmt::format("  <text x=\"{}\" y=\"{}\" {}>{}</text>\n", x, y, extra, escape(s));
}

double bar_length(double value, double max) { return max > 0 ? value / max * kBarArea : 0; }

}  // namespace

std::string render_bench_chart(const BenchReport& report) {
  std::vector<const ModeResult*> measured, skipped;
  for (const ModeResult& m : report.modes) (m.ok() ? measured : skipped).push_back(&m);
  double max_throughput = 0, max_latency = 0;
  for (const ModeResult* m : measured) {
    max_throughput = std::max(max_throughput, m->throughput);
    max_latency = std::max(max_latency, m->latency.p99);
  }
  const int rows = static_cast<int>(measured.size());
  const int panel = 40 + rows * kRowHeight + 10;
  const int height = 70 + 2 * panel + static_cast<int>(skipped.size()) * 20 + 30;

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"sans-serif\" font-size=\"13\">\n  <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      kWidth, height, kWidth, height);
  svg += text(20, 28, fmt::format("kiln bench: {}", report.model), "font-size=\"17\" font-weight=\"bold\"");
  svg += text(20, 50, fmt::format("device {}, batch size {}, {}", report.device, report.batch_size, report.date),
              "fill=\"#555\"");

  int y = 70;
  svg += text(20, y + 22, "Throughput (images/s, higher is better)", "font-weight=\"bold\"");
  for (int i = 0; i < rows; ++i) {
    const ModeResult& m = *measured[static_cast<size_t>(i)];
    const int top = y + 40 + i * kRowHeight;
    const double len = bar_length(m.throughput, max_throughput);
    svg += text(20, top + 15, m.mode);
    svg += fmt::format("  <rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"/>\n", kLabelWidth, top,
                       len, kBarHeight, color_of(m.mode));
    std::string label = fmt::format("{:.1f}", m.throughput);
    if (m.speedup_vs_native) label += fmt::format("  ({:.2f}x native)", *m.speedup_vs_native);
    svg += text(kLabelWidth + static_cast<int>(len) + 6, top + 15, label);
  }

  y += panel;
  svg += text(20, y + 22, "Latency per batch, end to end (ms, lower is better): bar p50, line p90-p99",
              "font-weight=\"bold\"");
  for (int i = 0; i < rows; ++i) {
    const ModeResult& m = *measured[static_cast<size_t>(i)];
    const int top = y + 40 + i * kRowHeight;
    const double p50 = bar_length(m.latency.p50, max_latency);
    const double p90 = bar_length(m.latency.p90, max_latency);
    const double p99 = bar_length(m.latency.p99, max_latency);
    svg += text(20, top + 15, m.mode);
    svg += fmt::format("  <rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"/>\n", kLabelWidth, top,
                       p50, kBarHeight, color_of(m.mode));
    svg += fmt::format("  <line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"black\" stroke-width=\"2\"/>\n",
                       kLabelWidth + p90, top + kBarHeight / 2, kLabelWidth + p99, top + kBarHeight / 2);
    svg += text(kLabelWidth + static_cast<int>(std::max(p50, p99)) + 6, top + 15,
                fmt::format("p50 {:.2f}  p99 {:.2f}", m.latency.p50, m.latency.p99));
  }

  y += panel;
  for (size_t i = 0; i < skipped.size(); ++i) {
    // The full reason is in log.txt and results.json; the chart keeps one readable line.
    std::string line = fmt::format("{}: {}", skipped[i]->mode, skipped[i]->status);
    if (line.size() > 120) line = line.substr(0, 117) + "...";
    svg += text(20, y + 10 + static_cast<int>(i) * 20, line, "fill=\"#a00\"");
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace kiln::cli
