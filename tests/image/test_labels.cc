#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "image/labels.h"

namespace kiln::image {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(Labels, ProjectLabelFileHas1000Classes) {
  const auto labels = load_labels(std::string(KILN_SOURCE_DIR) + "/data/imagenet_classes.txt");
  ASSERT_EQ(labels.size(), 1000u);
  EXPECT_EQ(labels[0], "tench, Tinca tinca");
  EXPECT_EQ(labels[285], "Egyptian cat");
  EXPECT_EQ(labels[906], "Windsor tie");
  EXPECT_EQ(labels[999], "toilet tissue, toilet paper, bathroom tissue");
}

TEST(Labels, TrimsCarriageReturnsAndKeepsLineNumbers) {
  const auto labels = load_labels(write_temp("labels_crlf.txt", "cat\r\n\r\ndog  \r\n\n"));
  EXPECT_EQ(labels, (std::vector<std::string>{"cat", "", "dog"}));
}

TEST(Labels, MissingOrEmptyFileIsAnError) {
  try {
    load_labels("/nonexistent/labels.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/labels.txt"), std::string::npos);
  }
  EXPECT_THROW(load_labels(write_temp("labels_empty.txt", "")), Error);
  EXPECT_THROW(load_labels(write_temp("labels_blank.txt", "\n \n")), Error);
}

TEST(TopK, OrdersByScoreAndBreaksTiesByIndex) {
  const std::vector<float> scores = {0.1f, 0.7f, 0.3f, 0.7f, -2.f, 0.3f};
  const auto top = top_k(scores, 4);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0], (std::pair<int, float>{1, 0.7f}));
  EXPECT_EQ(top[1], (std::pair<int, float>{3, 0.7f}));
  EXPECT_EQ(top[2], (std::pair<int, float>{2, 0.3f}));
  EXPECT_EQ(top[3], (std::pair<int, float>{5, 0.3f}));
  EXPECT_EQ(top_k(scores, 100).size(), scores.size());
  EXPECT_TRUE(top_k(scores, 0).empty());
  EXPECT_TRUE(top_k(scores, -3).empty());
}

TEST(TopK, NanRanksLast) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> scores = {nan, -5.f, nan, 1.f};
  const auto top = top_k(scores, 4);
  EXPECT_EQ(top[0].first, 3);
  EXPECT_EQ(top[1].first, 1);
  EXPECT_EQ(top[2].first, 0);
  EXPECT_EQ(top[3].first, 2);
}

TEST(Softmax, MatchesHandValuesAndIsStable) {
  const auto p = softmax(std::vector<float>{1.f, 2.f, 3.f});
  // e^1, e^2, e^3 normalized: 0.0900306, 0.2447285, 0.6652410
  EXPECT_NEAR(p[0], 0.0900306f, 1e-6f);
  EXPECT_NEAR(p[1], 0.2447285f, 1e-6f);
  EXPECT_NEAR(p[2], 0.6652410f, 1e-6f);
  const auto big = softmax(std::vector<float>{1000.f, 1000.f, -1000.f});
  EXPECT_NEAR(big[0], 0.5f, 1e-6f);
  EXPECT_NEAR(big[2], 0.f, 1e-6f);
  EXPECT_TRUE(softmax(std::vector<float>{}).empty());
}

}  // namespace
}  // namespace kiln::image
