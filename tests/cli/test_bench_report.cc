#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include <nlohmann/json.hpp>

#include "cli/bench_chart.h"
#include "cli/bench_report.h"
#include "cli/bench_timing.h"
#include "cli/classify.h"

namespace kiln::cli {
namespace {

// numpy.percentile with the default "linear" method, written out.
double numpy_percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q / 100 * (v.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  return i + 1 < v.size() ? v[i] + (v[i + 1] - v[i]) * (pos - i) : v[i];
}

TEST(BenchTiming, PercentilesMatchNumpyLinearInterpolation) {
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 50), 2.5);           // np.percentile([4,1,3,2], 50)
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4, 5}, 90), 4.6);        // np.percentile(range(1,6), 90)
  EXPECT_DOUBLE_EQ(percentile({10, 20, 30, 40, 50}, 99), 49.6);  // np.percentile(..., 99)
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7);
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0);
  std::mt19937 rng(3);
  std::exponential_distribution<double> dist(0.5);
  std::vector<double> samples(997);
  for (double& x : samples) x = dist(rng);
  for (double q : {0.0, 13.0, 50.0, 90.0, 99.0, 100.0})
    EXPECT_NEAR(percentile(samples, q), numpy_percentile(samples, q), 1e-12) << q;
}

TEST(BenchTiming, SummaryIsOrdered) {
  const LatencyStats s = summarize({5, 1, 2, 3, 4, 100});
  EXPECT_DOUBLE_EQ(s.mean, 115.0 / 6);
  EXPECT_DOUBLE_EQ(s.p50, 3.5);
  EXPECT_LE(s.p50, s.p90);
  EXPECT_LE(s.p90, s.p99);
  EXPECT_LE(s.p99, 100);
}

class CountingContext : public ExecutionContext {
 public:
  Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) override {
    ++runs;
    if (fail_at == runs) return Status(ErrorCode::kInternal, "device lost");
    outputs->assign(1, inputs.at(0));
    return {};
  }
  RunTiming last_timing() const override { return {0.25, 0.5}; }
  int runs = 0;
  int fail_at = -1;
};

TEST(BenchTiming, RunsWarmupThenTimedIterations) {
  CountingContext ctx;
  const TimingResult r = time_runs(ctx, {Tensor::scalar<float>(1.5f)}, {.warmup = 3, .iterations = 7});
  EXPECT_EQ(ctx.runs, 10);
  EXPECT_EQ(r.total_ms.size(), 7u);
  EXPECT_EQ(r.compute_ms, std::vector<double>(7, 0.25));
}

TEST(BenchTiming, DurationModeRunsAtLeastTheMinimum) {
  CountingContext ctx;
  const TimingResult r = time_runs(ctx, {Tensor::scalar<float>(1.5f)}, {.warmup = 0, .duration_s = 0.01});
  EXPECT_GE(r.total_ms.size(), 5u);
  EXPECT_GE(r.elapsed_s, 0.01);
}

TEST(BenchTiming, FailedRunThrowsWithTheBackendMessage) {
  CountingContext ctx;
  ctx.fail_at = 4;
  try {
    time_runs(ctx, {Tensor::scalar<float>(1.5f)}, {.warmup = 2, .iterations = 5});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "device lost");
  }
}

TEST(Classify, LogitsGetSoftmaxAndLabels) {
  // Two rows of logits over 4 classes.
  const Tensor logits = Tensor::from_vector<float>({2, 4}, {1, 3, 2, 0, -1, -1, 5, 4});
  const auto rows = top_predictions(logits, {"a", "b", "c", "d"}, 2);
  ASSERT_EQ(rows.size(), 2u);
  const double z0 = std::exp(1) + std::exp(3) + std::exp(2) + std::exp(0);
  EXPECT_EQ(rows[0][0].class_index, 1);
  EXPECT_EQ(rows[0][0].label, "b");
  EXPECT_NEAR(rows[0][0].prob, std::exp(3) / z0, 1e-6);
  EXPECT_EQ(rows[0][1].label, "c");
  EXPECT_NEAR(rows[0][1].prob, std::exp(2) / z0, 1e-6);
  EXPECT_EQ(rows[1][0].label, "c");
  EXPECT_EQ(rows[1][1].label, "d");
}

TEST(Classify, ProbabilitiesArePassedThrough) {
  const Tensor probs = Tensor::from_vector<float>({1, 3}, {0.2f, 0.7f, 0.1f});
  const auto rows = top_predictions(probs, {"x", "y", "z"}, 3);
  EXPECT_FLOAT_EQ(rows[0][0].prob, 0.7f);
  EXPECT_FLOAT_EQ(rows[0][2].prob, 0.1f);
}

TEST(Classify, ThousandAndOneClassesHaveBackgroundFirst) {
  std::vector<std::string> labels;
  for (int i = 0; i < 1000; ++i) labels.push_back("label" + std::to_string(i));
  Tensor scores(DType::kF32, {1, 1001});
  scores.data<float>()[0] = 9;    // background
  scores.data<float>()[282] = 10; // label281
  const auto rows = top_predictions(scores, labels, 2);
  EXPECT_EQ(rows[0][0].class_index, 282);
  EXPECT_EQ(rows[0][0].label, "label281");
  EXPECT_EQ(rows[0][1].label, "background");
}

TEST(Classify, ClassesBeyondTheLabelsAreNamedByIndex) {
  const Tensor scores = Tensor::from_vector<float>({3}, {0.1f, 0.2f, 5.0f});
  EXPECT_EQ(top_predictions(scores, {"only"}, 1)[0][0].label, "class 2");
}

BenchReport sample_report() {
  BenchReport r;
  r.model = "m<1>.onnx";
  r.device = "cpu";
  r.batch_size = 2;
  r.date = "2025-01-01T00:00:00Z";
  r.command = "kiln bench m.onnx --native --fp16";
  ModeResult native;
  native.mode = "native";
  native.throughput = 50;
  native.iterations = 10;
  native.latency = {40, 39, 45, 49};
  native.top5 = {{281, "tabby, tabby cat", 0.5f}};
  ModeResult fp32 = native;
  fp32.mode = "fp32";
  fp32.throughput = 125;
  fp32.compute = LatencyStats{10, 9, 11, 12};
  ModeResult fp16;
  fp16.mode = "fp16";
  fp16.status = "skipped: the CPU backend runs native and fp32 only";
  r.modes = {fp32, native, fp16};
  compute_speedups(r);
  return r;
}

TEST(BenchReport, JsonFollowsTheSchema) {
  const auto j = nlohmann::json::parse(report_to_json(sample_report()));
  for (const char* key : {"model", "device", "batch_size", "date", "command", "modes"}) EXPECT_TRUE(j.contains(key));
  ASSERT_EQ(j["modes"].size(), 3u);
  const auto& fp32 = j["modes"][0];
  EXPECT_EQ(fp32["mode"], "fp32");
  EXPECT_EQ(fp32["status"], "ok");
  EXPECT_DOUBLE_EQ(fp32["speedup_vs_native"].get<double>(), 2.5);
  EXPECT_EQ(fp32["top5"][0]["class"], 281);
  EXPECT_EQ(fp32["top5"][0]["label"], "tabby, tabby cat");
  for (const char* k : {"mean", "p50", "p90", "p99"}) {
    EXPECT_TRUE(fp32["latency_ms"].contains(k));
    EXPECT_TRUE(fp32["compute_ms"].contains(k));
  }
  EXPECT_TRUE(j["modes"][1]["compute_ms"].is_null());
  EXPECT_DOUBLE_EQ(j["modes"][1]["speedup_vs_native"].get<double>(), 1.0);
  EXPECT_EQ(j["modes"][2]["status"], "skipped: the CPU backend runs native and fp32 only");
  EXPECT_TRUE(j["modes"][2]["speedup_vs_native"].is_null());
}

TEST(BenchReport, NoNativeMeansNoSpeedup) {
  BenchReport r = sample_report();
  r.modes.erase(r.modes.begin() + 1);
  compute_speedups(r);
  EXPECT_FALSE(r.modes[0].speedup_vs_native.has_value());
}

TEST(BenchReport, TableListsEveryMode) {
  const std::string table = format_comparison_table(sample_report());
  EXPECT_NE(table.find("fp32"), std::string::npos);
  EXPECT_NE(table.find("2.50x"), std::string::npos);
  EXPECT_NE(table.find("fp16     skipped: the CPU backend"), std::string::npos);
}

TEST(BenchChart, SvgHasBarsPerModeAndEscapedText) {
  const std::string svg = render_bench_chart(sample_report());
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("m&lt;1&gt;.onnx"), std::string::npos);
  EXPECT_EQ(svg.find("m<1>"), std::string::npos);
  size_t rects = 0;
  for (size_t p = svg.find("<rect"); p != std::string::npos; p = svg.find("<rect", p + 1)) ++rects;
  EXPECT_EQ(rects, 1u + 2 * 2);  // background + throughput and latency bar for each measured mode
  EXPECT_NE(svg.find("fp16: skipped"), std::string::npos);
}

}  // namespace
}  // namespace kiln::cli
