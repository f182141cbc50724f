// The CLI's helpers are compiled into the kiln executable, not into a library, so the
// test binary compiles the ones under test itself.
#include "cli/agreement.cc"
#include "cli/bench_chart.cc"
#include "cli/bench_report.cc"
#include "cli/bench_timing.cc"
#include "cli/classify.cc"
