#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "quant/calibration.h"
#include "quant/calibrator.h"
#include "quant/histogram.h"

namespace kiln::quant {
namespace {

std::vector<float> gaussian(size_t n, float sigma, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TEST(AbsHistogram, GrowsRangeWithoutLosingCounts) {
  AbsHistogram h(64);
  h.add(std::vector<float>{0.1f, -0.2f, 0.3f});
  const float first_range = h.range();
  h.add(std::vector<float>{5.0f, -7.5f});
  EXPECT_GE(h.range(), 7.5f);
  EXPECT_GT(h.range(), first_range);
  uint64_t sum = 0;
  for (auto c : h.counts()) sum += c;
  EXPECT_EQ(sum, 5u);
  EXPECT_EQ(h.total(), 5u);
  EXPECT_FLOAT_EQ(h.max_abs(), 7.5f);
}

TEST(AbsHistogram, IgnoresNonFiniteValues) {
  AbsHistogram h(16);
  h.add(std::vector<float>{1.0f, NAN, INFINITY, -2.0f});
  EXPECT_EQ(h.total(), 2u);
  EXPECT_FLOAT_EQ(h.max_abs(), 2.0f);
}

TEST(Calibrators, MinMaxIsTheLargestMagnitude) {
  AbsHistogram h;
  std::vector<float> v = gaussian(10000, 1.0f, 1);
  v[17] = -9.25f;
  h.add(v);
  EXPECT_FLOAT_EQ(minmax_threshold(h), 9.25f);
}

TEST(Calibrators, PercentileOfUniformDataIsProportional) {
  std::vector<float> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = (static_cast<float>(i) + 0.5f) / v.size() * 10.0f;
  AbsHistogram h;
  h.add(v);
  EXPECT_NEAR(percentile_threshold(h, 50.0), 5.0f, 0.02f);
  EXPECT_NEAR(percentile_threshold(h, 99.0), 9.9f, 0.02f);
  EXPECT_NEAR(percentile_threshold(h, 100.0), 10.0f, 0.01f);
  EXPECT_THROW(percentile_threshold(h, 0.0), Error);
}

TEST(Calibrators, EntropyClipsTheTailOfAGaussianWithOutliers) {
  // A unit Gaussian plus a few huge outliers: min-max would waste the INT8 range on the
  // outliers; the entropy threshold lands a few sigma out, far below them.
  std::vector<float> v = gaussian(200000, 1.0f, 3);
  for (int i = 0; i < 20; ++i) v[i * 997] = 60.0f + i;
  AbsHistogram h;
  h.add(v);
  const float t = entropy_threshold(h);
  EXPECT_GT(t, 2.5f);
  EXPECT_LT(t, 12.0f);
  EXPECT_GT(minmax_threshold(h), 60.0f);
}

TEST(Calibrators, EntropyKeepsTheWholeRangeOfAClippedGaussian) {
  // A Gaussian already clipped at 2 sigma has no tail worth cutting: the threshold stays
  // close to the clip value.
  std::vector<float> v = gaussian(200000, 1.0f, 5);
  for (auto& x : v) x = std::clamp(x, -2.0f, 2.0f);
  AbsHistogram h;
  h.add(v);
  EXPECT_NEAR(entropy_threshold(h), 2.0f, 0.15f);
}

TEST(Calibrators, ParseNames) {
  EXPECT_EQ(parse_calibrator("entropy"), CalibratorKind::kEntropy);
  EXPECT_EQ(parse_calibrator("minmax"), CalibratorKind::kMinMax);
  EXPECT_THROW(parse_calibrator("kl"), Error);
}

TEST(WeightScales, PerOutputChannel) {
  Tensor w = Tensor::from_vector<float>({2, 3}, {0.5f, -1.27f, 0.1f, 0.0f, 0.0f, 0.0f});
  auto s = per_channel_scales(w, 0);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_FLOAT_EQ(s[0], 0.01f);
  EXPECT_FLOAT_EQ(s[1], 1.0f);  // an all-zero channel keeps a usable scale
}

ir::Graph relu_graph() {
  ir::Graph g;
  g.name = "relu";
  int x = g.add_value("x", DType::kF32, {kDynamic, 4});
  int y = g.add_value("y", DType::kF32, {kDynamic, 4});
  g.inputs = {x};
  g.outputs = {y};
  g.add_node({"relu0", "Relu", "", {x}, {y}, {}});
  return g;
}

TEST(CalibrationCache, RoundTripsAndRejectsAnotherGraph) {
  const ir::Graph g = relu_graph();
  CalibrationTable table;
  table.calibrator = "percentile";
  table.graph_fingerprint = graph_fingerprint(g);
  table.thresholds = {{"x", 3.25f}, {"y", 0.123456789f}};
  const std::string path = ::testing::TempDir() + "/calib.txt";
  save_calibration_cache(table, path);
  CalibrationTable back = load_calibration_cache(path, g);
  EXPECT_EQ(back.calibrator, "percentile");
  EXPECT_EQ(back.thresholds, table.thresholds);
  EXPECT_FLOAT_EQ(back.int8_scale("x"), 3.25f / 127);

  ir::Graph other = g;
  other.value(other.inputs[0]).dims = {kDynamic, 5};
  try {
    load_calibration_cache(path, other);
    FAIL() << "a cache for another graph was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another graph"), std::string::npos) << e.what();
  }
}

TEST(CalibrationCache, MalformedFilesAreRejected) {
  const ir::Graph g = relu_graph();
  const std::string path = ::testing::TempDir() + "/bad_calib.txt";
  for (const std::string& body : {std::string("hello\n"), std::string("kiln-calibration 2\n"),
                                 "kiln-calibration 1\ngraph " + graph_fingerprint(g) + "\ncalibrator minmax\nabc x\n",
                                 "kiln-calibration 1\ngraph " + graph_fingerprint(g) + "\ncalibrator minmax\n-1 x\n"}) {
    std::ofstream(path) << body;
    EXPECT_THROW(load_calibration_cache(path, g), Error) << body;
  }
  EXPECT_THROW(load_calibration_cache(path + ".missing", g), Error);
}

// A threshold too small for its scale to have a finite inverse (a tensor that was zero in
// practice, or a hand-edited cache) gets scale 1 like a zero one, never a scale whose
// inverse overflows to infinity and turns the quantized tensor into NaNs.
TEST(CalibrationCache, TinyThresholdsGetScaleOne) {
  const ir::Graph g = relu_graph();
  std::istringstream text("kiln-calibration 1\ngraph " + graph_fingerprint(g) +
                          "\ncalibrator minmax\n1e-40 x\n0 y\n2.5e-30 z\n");
  const CalibrationTable table = parse_calibration_cache(text, "tiny.cache", g);
  ASSERT_EQ(table.thresholds.size(), 3u);
  for (const char* name : {"x", "y"}) {
    EXPECT_EQ(table.int8_scale(name), 1.0f) << name;
    EXPECT_EQ(table.fp8_scale(name), 1.0f) << name;
  }
  // Just above the bound: threshold / 448 and its inverse are finite floats.
  EXPECT_TRUE(std::isfinite(1.0f / table.fp8_scale("z")));
  EXPECT_TRUE(std::isfinite(1.0f / table.int8_scale("z")));
  EXPECT_FLOAT_EQ(table.int8_scale("z"), 2.5e-30f / 127);
}

TEST(Calibrate, CollectsThresholdsOfInputsAndActivations) {
  const ir::Graph g = relu_graph();
  int remaining = 3;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  auto source = [&](std::vector<Tensor>& inputs) {
    if (remaining-- == 0) return false;
    Tensor x(DType::kF32, {2, 4});
    for (auto& v : x.span<float>()) v = dist(rng);
    x.data<float>()[0] = -3.0f;  // the largest magnitude is negative: relu removes it
    inputs = {x};
    return true;
  };
  int progress_lines = 0;
  CalibrationTable t = calibrate(g, source, CalibratorKind::kMinMax, [&](const std::string&) { ++progress_lines; });
  EXPECT_EQ(progress_lines, 3);
  EXPECT_FLOAT_EQ(t.thresholds.at("x"), 3.0f);
  EXPECT_LE(t.thresholds.at("y"), 2.0f);
  EXPECT_GT(t.thresholds.at("y"), 0.5f);
}

TEST(Calibrate, EmptyDataIsAnError) {
  EXPECT_THROW(calibrate(relu_graph(), [](std::vector<Tensor>&) { return false; }, CalibratorKind::kEntropy), Error);
}

}  // namespace
}  // namespace kiln::quant

namespace kiln::quant {
namespace {

TEST(Calibrators, EntropyOnAReluOutputKeepsTheBulkOfTheDistribution) {
  // Half exact zeros (ReLU), half |N(0,1)|: the threshold must cover the bulk (a few
  // sigma), not collapse towards the first candidate.
  std::vector<float> v = gaussian(400000, 1.0f, 9);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 2 ? std::fabs(v[i]) : 0.0f;
  AbsHistogram h;
  h.add(v);
  const float t = entropy_threshold(h);
  EXPECT_GT(t, 2.0f) << "max " << h.max_abs();
  EXPECT_LT(t, h.max_abs() + 1e-3f);
}

}  // namespace
}  // namespace kiln::quant
