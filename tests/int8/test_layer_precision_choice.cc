// `--precision best`'s per-layer choice between INT8 and FP16 from timed tactics (host code
// only, no GPU needed): the margin, the cost of converting an input to INT8, and layers
// that lack a time.
#ifdef KILN_HAVE_CUDA

#include <gtest/gtest.h>

#include "backends/cuda/layer_precision_choice.h"

namespace kiln::cuda {
namespace {

ConvTiming conv(const std::string& node, double fp16, double int8, double quantize = 0, std::string producer = {}) {
  return {node, fp16, int8, quantize, std::move(producer)};
}

TEST(LayerPrecisionChoice, FasterInt8WinsSlowerStaysFp16) {
  const auto c = choose_layer_precisions({conv("layer1.0.conv2", 0.128, 0.461), conv("layer1.0.conv1", 0.130, 0.077)});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].node, "layer1.0.conv2");
  EXPECT_FALSE(c[0].int8);
  EXPECT_EQ(c[0].reason, "fp16 0.128 ms < int8 0.461 ms");
  EXPECT_TRUE(c[1].int8);
  EXPECT_EQ(c[1].reason, "int8 0.077 ms < fp16 0.130 ms");
  EXPECT_EQ(int8_nodes_of(c), std::set<std::string>{"layer1.0.conv1"});
}

TEST(LayerPrecisionChoice, Int8MustWinByTheMargin) {
  // 0.095 is 5% faster than 0.100: inside the default 10% margin, so FP16.
  auto c = choose_layer_precisions({conv("a", 0.100, 0.095)});
  EXPECT_FALSE(c[0].int8);
  EXPECT_NE(c[0].reason.find("less than 10%"), std::string::npos) << c[0].reason;
  EXPECT_TRUE(choose_layer_precisions({conv("a", 0.100, 0.089)})[0].int8);
  // Without a margin any gain counts; equal times do not.
  EXPECT_TRUE(choose_layer_precisions({conv("a", 0.100, 0.095)}, 0.0)[0].int8);
  EXPECT_FALSE(choose_layer_precisions({conv("a", 0.100, 0.100)}, 0.0)[0].int8);
}

TEST(LayerPrecisionChoice, InputConversionCountsUnlessTheProducerIsInt8) {
  // Alone, b needs its input quantized: 0.05 + 0.06 is not below 0.9 x 0.1.
  auto alone = choose_layer_precisions({conv("b", 0.100, 0.050, 0.060)});
  EXPECT_FALSE(alone[0].int8);
  EXPECT_NE(alone[0].reason.find("quantize 0.060 ms"), std::string::npos) << alone[0].reason;
  // After an INT8 producer its input is INT8 already.
  auto after_int8 = choose_layer_precisions({conv("a", 0.200, 0.050, 0.010), conv("b", 0.100, 0.050, 0.060, "a")});
  EXPECT_TRUE(after_int8[0].int8);
  EXPECT_TRUE(after_int8[1].int8);
  EXPECT_EQ(after_int8[1].reason, "int8 0.050 ms < fp16 0.100 ms");
  // After an FP16 producer the conversion is paid.
  auto after_fp16 = choose_layer_precisions({conv("a", 0.100, 0.300, 0.010), conv("b", 0.100, 0.050, 0.060, "a")});
  EXPECT_FALSE(after_fp16[0].int8);
  EXPECT_FALSE(after_fp16[1].int8);
}

TEST(LayerPrecisionChoice, MissingTimesStayFp16AndSayWhy) {
  const auto c = choose_layer_precisions({conv("stem", 0.5, -1), conv("odd", -1, 0.01), conv("none", -1, -1)});
  ASSERT_EQ(c.size(), 3u);
  for (const LayerChoice& l : c) EXPECT_FALSE(l.int8) << l.node;
  EXPECT_EQ(c[0].reason, "fp16 0.500 ms (no int8 form)");
  EXPECT_NE(c[1].reason.find("no fp16 time"), std::string::npos) << c[1].reason;
  EXPECT_EQ(c[2].reason, "fp16 (no int8 form)");
  EXPECT_TRUE(int8_nodes_of(c).empty());
  EXPECT_TRUE(choose_layer_precisions({}).empty());
}

}  // namespace
}  // namespace kiln::cuda

#endif  // KILN_HAVE_CUDA
