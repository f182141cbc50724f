// chart.svg of `kiln bench`: throughput and latency bars per mode, as plain SVG that any
// browser shows and any diff tool can read.
#pragma once

#include <string>

#include "cli/bench_report.h"

namespace kiln::cli {

// Two panels: throughput (images/s) and latency per batch (p50 bar, p90-p99 whisker),
// one row per measured mode; skipped modes are listed with their reason.
std::string render_bench_chart(const BenchReport& report);

}  // namespace kiln::cli
