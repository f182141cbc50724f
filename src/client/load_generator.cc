#include "client/load_generator.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "core/error.h"

namespace kiln::client {

using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kConnectionRetryPause = std::chrono::milliseconds(20);

double ms_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

SteadyClock::time_point after(SteadyClock::time_point t, double seconds) {
  return t + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
}

// One connection's share of a run, merged when the run ends.
struct WorkerTally {
  LoadStats stats;
  int64_t warmup = 0, unfinished = 0;
};

// Counts one request by when it completed relative to the measured window.
void count(WorkerTally& tally, const HttpOutcome& outcome, SteadyClock::time_point started,
           SteadyClock::time_point done, SteadyClock::time_point window_start, SteadyClock::time_point window_end) {
  if (done < window_start) {
    ++tally.warmup;
  } else if (done > window_end) {
    ++tally.unfinished;
  } else if (outcome.ok()) {
    tally.stats.record_success(ms_between(started, done));
  } else {
    tally.stats.record_failure(outcome);
  }
}

void check_options(const LoadOptions& o) {
  KILN_CHECK(o.duration_s > 0 && o.duration_s <= 24 * 3600, "--duration must be in (0, 86400] seconds, got {}",
             o.duration_s);
  KILN_CHECK(o.warmup_s >= 0 && o.warmup_s <= 3600, "--warmup must be in [0, 3600] seconds, got {}", o.warmup_s);
  KILN_CHECK(o.timeout_s > 0, "--timeout must be positive, got {}", o.timeout_s);
  KILN_CHECK(o.request_rate >= 0 && o.request_rate <= 1e6, "--request-rate must be in (0, 1e6], got {}", o.request_rate);
  KILN_CHECK(o.request_rate > 0 || (o.concurrency >= 1 && o.concurrency <= 4096),
             "--concurrency must be in 1..4096, got {}", o.concurrency);
  KILN_CHECK(o.max_connections >= 1 && o.max_connections <= 4096, "--max-connections must be in 1..4096, got {}",
             o.max_connections);
}

}  // namespace

Distribution parse_distribution(const std::string& text) {
  if (text == "constant") return Distribution::kConstant;
  if (text == "poisson") return Distribution::kPoisson;
  fail("--distribution \"{}\": expected constant or poisson", text);
}

std::vector<double> arrival_times(double rate, Distribution distribution, double duration_s, uint64_t seed) {
  KILN_CHECK(rate > 0, "the request rate must be positive, got {}", rate);
  std::vector<double> times;
  times.reserve(static_cast<size_t>(rate * duration_s) + 1);
  if (distribution == Distribution::kConstant) {
    for (int64_t i = 0;; ++i) {
      const double t = static_cast<double>(i) / rate;
      if (t >= duration_s) break;
      times.push_back(t);
    }
    return times;
  }
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> gap(rate);
  for (double t = gap(rng); t < duration_s; t += gap(rng)) times.push_back(t);
  return times;
}

LoadResult run_load(const LoadOptions& options) {
  check_options(options);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000));
  const auto start = SteadyClock::now();
  const auto window_start = after(start, options.warmup_s);
  const auto window_end = after(window_start, options.duration_s);
  const bool open_loop = options.request_rate > 0;
  const int workers = open_loop ? options.max_connections : options.concurrency;

  std::vector<double> arrivals;
  if (open_loop) arrivals = arrival_times(options.request_rate, options.distribution,
                                          options.warmup_s + options.duration_s, options.seed);
  std::atomic<size_t> next_arrival{0};
  std::vector<WorkerTally> tallies(static_cast<size_t>(workers));

  auto closed_loop_worker = [&](WorkerTally& tally) {
    HttpConnection connection(options.url, timeout);
    while (SteadyClock::now() < window_end) {
      const auto sent = SteadyClock::now();
      const HttpOutcome outcome = connection.send(options.request);
      const auto done = SteadyClock::now();
      count(tally, outcome, sent, done, window_start, window_end);
      // A refused connection fails at once; pausing keeps a down server from turning the
      // run into a busy loop of millions of counted failures.
      if (outcome.failure == FailureKind::kConnection) std::this_thread::sleep_for(kConnectionRetryPause);
    }
  };
  auto open_loop_worker = [&](WorkerTally& tally) {
    HttpConnection connection(options.url, timeout);
    for (;;) {
      const size_t i = next_arrival.fetch_add(1);
      if (i >= arrivals.size()) break;
      const auto scheduled = after(start, arrivals[i]);
      std::this_thread::sleep_until(scheduled);
      const HttpOutcome outcome = connection.send(options.request);
      count(tally, outcome, scheduled, SteadyClock::now(), window_start, window_end);
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(workers));
  try {
    for (int w = 0; w < workers; ++w) {
      WorkerTally& tally = tallies[static_cast<size_t>(w)];
      if (open_loop) threads.emplace_back(open_loop_worker, std::ref(tally));
      else threads.emplace_back(closed_loop_worker, std::ref(tally));
    }
  } catch (const std::system_error& e) {
    // Could not start every thread: stop the started ones quickly and report.
    next_arrival = arrivals.size();
    for (auto& t : threads) t.join();
    fail("cannot start {} load threads: {}", workers, e.what());
  }
  for (auto& t : threads) t.join();

  LoadResult result;
  for (const auto& t : tallies) {
    result.stats.merge(t.stats);
    result.warmup_requests += t.warmup;
    result.unfinished += t.unfinished;
  }
  result.window_s = options.duration_s;
  result.elapsed_s = ms_between(start, SteadyClock::now()) / 1000.0;
  return result;
}

nlohmann::json load_report_json(const LoadOptions& options, const LoadResult& result) {
  const LatencySummary lat = summarize_latencies(result.stats.latencies_ms);
  const double rps = static_cast<double>(result.stats.succeeded) / result.window_s;
  nlohmann::json j;
  j["url"] = options.url.text();
  j["target"] = options.request.target;
  j["mode"] = options.request_rate > 0 ? "request_rate" : "concurrency";
  if (options.request_rate > 0) {
    j["request_rate"] = options.request_rate;
    j["distribution"] = options.distribution == Distribution::kPoisson ? "poisson" : "constant";
    j["max_connections"] = options.max_connections;
  } else {
    j["concurrency"] = options.concurrency;
  }
  j["batch"] = options.images_per_request;
  j["duration_s"] = options.duration_s;
  j["warmup_s"] = options.warmup_s;
  j["timeout_s"] = options.timeout_s;
  j["elapsed_s"] = result.elapsed_s;
  j["requests"] = {{"completed", result.stats.succeeded + result.stats.failed},
                   {"succeeded", result.stats.succeeded},
                   {"failed", result.stats.failed},
                   {"warmup", result.warmup_requests},
                   {"unfinished", result.unfinished}};
  j["throughput"] = {{"requests_per_s", rps},
                     {"images_per_s", rps * static_cast<double>(options.images_per_request)}};
  j["latency_ms"] = {{"mean", lat.mean}, {"min", lat.min}, {"max", lat.max}, {"p50", lat.p50},
                     {"p90", lat.p90},   {"p95", lat.p95}, {"p99", lat.p99}};
  nlohmann::json by_kind = nlohmann::json::object();
  for (const auto& [k, n] : result.stats.errors_by_kind) by_kind[k] = n;
  j["errors"] = {{"total", result.stats.failed}, {"by_kind", by_kind}};
  if (!result.stats.first_error.empty()) j["errors"]["first"] = result.stats.first_error;
  return j;
}

std::string load_report_text(const LoadOptions& options, const LoadResult& result) {
  const LatencySummary lat = summarize_latencies(result.stats.latencies_ms);
  const double rps = static_cast<double>(result.stats.succeeded) / result.window_s;
  std::string s;
  if (options.request_rate > 0)
    s += fmt::format("Request rate: {:g} req/s ({}, {} connections)\n", options.request_rate,
                     options.distribution == Distribution::kPoisson ? "poisson" : "constant", options.max_connections);
  else
    s += fmt::format("Concurrency: {}\n", options.concurrency);
  s += fmt::format("  Requests: {} succeeded, {} failed in {:g} s ({} warm-up, {} unfinished not counted)\n",
                   result.stats.succeeded, result.stats.failed, result.window_s, result.warmup_requests,
                   result.unfinished);
  s += fmt::format("  Throughput: {:.2f} infer/sec, {:.2f} images/sec (batch {})\n", rps,
                   rps * static_cast<double>(options.images_per_request), options.images_per_request);
  s += fmt::format("  Latency (ms): p50 {:.2f}  p90 {:.2f}  p95 {:.2f}  p99 {:.2f}  mean {:.2f}  max {:.2f}\n", lat.p50,
                   lat.p90, lat.p95, lat.p99, lat.mean, lat.max);
  if (result.stats.failed) {
    s += "  Errors:";
    for (const auto& [k, n] : result.stats.errors_by_kind) s += fmt::format(" {}={}", k, n);
    s += fmt::format("\n  First error: {}\n", result.stats.first_error);
  }
  return s;
}

}  // namespace kiln::client
