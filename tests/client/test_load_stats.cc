#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "client/load_generator.h"
#include "client/load_stats.h"
#include "core/error.h"

namespace kiln::client {
namespace {

// The definition, literally: the smallest value v with #(x <= v) >= p% of n.
double naive_percentile(const std::vector<double>& values, double p) {
  double best = INFINITY;
  for (double v : values) {
    const auto at_or_below = std::count_if(values.begin(), values.end(), [&](double x) { return x <= v; });
    if (static_cast<double>(at_or_below) >= p / 100.0 * static_cast<double>(values.size()) - 1e-9) best = std::min(best, v);
  }
  return best;
}

TEST(LoadStats, PercentilesMatchTheNearestRankDefinition) {
  std::mt19937 rng(5);
  std::lognormal_distribution<double> dist(1.0, 0.6);
  for (size_t n : {1u, 2u, 7u, 100u, 1001u}) {
    std::vector<double> v(n);
    for (auto& x : v) x = dist(rng);
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    for (double p : {50.0, 90.0, 95.0, 99.0, 100.0}) EXPECT_EQ(percentile(sorted, p), naive_percentile(v, p)) << n << " " << p;
    const LatencySummary s = summarize_latencies(v);
    EXPECT_EQ(s.min, sorted.front());
    EXPECT_EQ(s.max, sorted.back());
    EXPECT_NEAR(s.mean, std::accumulate(v.begin(), v.end(), 0.0) / n, 1e-9);
    EXPECT_EQ(s.p99, naive_percentile(v, 99));
  }
}

TEST(LoadStats, HandCheckedPercentiles) {
  const std::vector<double> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(percentile(ten, 50), 5);
  EXPECT_EQ(percentile(ten, 90), 9);
  EXPECT_EQ(percentile(ten, 95), 10);
  EXPECT_EQ(percentile({}, 50), 0);
  const LatencySummary empty = summarize_latencies({});
  EXPECT_EQ(empty.p50, 0);
}

TEST(LoadStats, FailuresAreCountedByKind) {
  LoadStats a, b;
  HttpOutcome refused{FailureKind::kConnection, "cannot connect", {}};
  HttpOutcome busy{FailureKind::kHttpStatus, "HTTP 429", {}};
  busy.reply.status = 429;
  HttpOutcome slow{FailureKind::kTimeout, "timed out", {}};
  a.record_failure(refused);
  a.record_failure(refused);
  a.record_success(3.5);
  b.record_failure(busy);
  b.record_failure(slow);
  b.record_success(1.0);
  a.merge(b);
  EXPECT_EQ(a.succeeded, 2);
  EXPECT_EQ(a.failed, 4);
  EXPECT_EQ(a.errors_by_kind["connection"], 2);
  EXPECT_EQ(a.errors_by_kind["http_429"], 1);
  EXPECT_EQ(a.errors_by_kind["timeout"], 1);
  EXPECT_EQ(a.first_error, "cannot connect");
  EXPECT_EQ(a.latencies_ms.size(), 2u);
}

TEST(ArrivalTimes, ConstantRateIsEvenlySpaced) {
  const auto t = arrival_times(20, Distribution::kConstant, 1.5, 1);
  ASSERT_EQ(t.size(), 30u);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(t[i], i * 0.05, 1e-12);
}

TEST(ArrivalTimes, PoissonHasTheRateAndIsSeeded) {
  const double rate = 200, duration = 50;
  const auto t = arrival_times(rate, Distribution::kPoisson, duration, 9);
  // Count ~ Poisson(rate * duration): mean 10000, sd 100; allow 5 sd.
  EXPECT_NEAR(static_cast<double>(t.size()), rate * duration, 500);
  EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
  EXPECT_LT(t.back(), duration);
  // Exponential gaps: the coefficient of variation is 1 (constant spacing would give 0).
  std::vector<double> gaps;
  for (size_t i = 1; i < t.size(); ++i) gaps.push_back(t[i] - t[i - 1]);
  const double mean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / gaps.size();
  double var = 0;
  for (double g : gaps) var += (g - mean) * (g - mean);
  const double cv = std::sqrt(var / gaps.size()) / mean;
  EXPECT_NEAR(mean, 1 / rate, 0.05 / rate);
  EXPECT_NEAR(cv, 1.0, 0.05);
  EXPECT_EQ(arrival_times(rate, Distribution::kPoisson, 1, 9), arrival_times(rate, Distribution::kPoisson, 1, 9));
  EXPECT_NE(arrival_times(rate, Distribution::kPoisson, 1, 9), arrival_times(rate, Distribution::kPoisson, 1, 10));
  EXPECT_THROW(arrival_times(0, Distribution::kPoisson, 1, 1), Error);
  EXPECT_THROW(parse_distribution("uniform"), Error);
}

}  // namespace
}  // namespace kiln::client
