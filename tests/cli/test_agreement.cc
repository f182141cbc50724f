// Agreement between two classifications of the same photos (kiln eval --compare, and the
// FP32 comparison kiln bench prints for reduced precisions).
#include <gtest/gtest.h>

#include "cli/agreement.h"

namespace kiln::cli {
namespace {

std::vector<Prediction> top(std::vector<int> classes) {
  std::vector<Prediction> out;
  for (int c : classes) out.push_back(Prediction{c, "class " + std::to_string(c), 0.1f});
  return out;
}

TEST(Agreement, CountsTop1Top5AndLogitError) {
  ClassifiedImages ref, got;
  ref.top5 = {top({1, 2, 3, 4, 5}), top({7, 8, 9, 10, 11})};
  got.top5 = {top({1, 3, 2, 4, 6}), top({8, 7, 9, 10, 11})};  // same top-1 once; 4/5 and 5/5 shared
  ref.logits = {{3.0f, 4.0f}, {1.0f, 0.0f}};
  got.logits = {{3.0f, 4.5f}, {1.0f, 0.0f}};                  // error 0.5 / 5 = 0.1, then 0
  const Agreement a = compare_classifications(got, ref);
  EXPECT_EQ(a.images, 2u);
  EXPECT_EQ(a.top1_agree, 1u);
  EXPECT_DOUBLE_EQ(a.top5_overlap, (0.8 + 1.0) / 2);
  EXPECT_NEAR(a.logits_rel_mean, 0.05, 1e-7);
  EXPECT_NEAR(a.logits_rel_max, 0.1, 1e-7);
  EXPECT_EQ(format_agreement(a),
            "top-1 agreement 50.00% (1/2), top-5 overlap 90.00%, logits rel. error mean 0.0500, max 0.1000");
  const auto j = agreement_to_json(a);
  EXPECT_EQ(j.at("top1_agree"), 1);
  EXPECT_DOUBLE_EQ(j.at("top1_agreement").get<double>(), 0.5);
}

TEST(Agreement, DifferentImageCountsAreAnError) {
  ClassifiedImages a, b;
  a.top5 = {top({1})};
  a.logits = {{1.0f}};
  EXPECT_THROW(compare_classifications(a, b), Error);
}

TEST(Agreement, ListImagesNamesTheFlag) {
  try {
    list_images("/nonexistent/folder", "--eval-images");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--eval-images"), std::string::npos);
  }
}

}  // namespace
}  // namespace kiln::cli
