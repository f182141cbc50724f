// The host E4M3 conversion (quant/fp8.h) against hand-computed codes, the FP8 device check's
// message, and the FP8 lowering of a small graph (host code only, no GPU needed).
#include <cmath>
#include <map>

#include <gtest/gtest.h>

#include "core/error.h"
#include "engine/precision.h"
#include "quant/fp8.h"

namespace kiln::quant {
namespace {

// Code layout: sign | exponent (4 bits, bias 7) | mantissa (3 bits).
TEST(Fp8E4M3, HandComputedCodes) {
  EXPECT_EQ(float_to_e4m3(0.0f), 0x00);
  EXPECT_EQ(float_to_e4m3(-0.0f), 0x80);
  EXPECT_EQ(float_to_e4m3(1.0f), 0x38);    // exponent 7 (2^0), mantissa 0
  EXPECT_EQ(float_to_e4m3(-2.5f), 0xc2);   // 1.25 * 2^1: exponent 8, mantissa 2
  // 0.1 = 1.6 * 2^-4: (1.6 - 1) * 8 = 4.8 rounds to 5, so 1.625 * 2^-4 = 0.1015625.
  EXPECT_EQ(float_to_e4m3(0.1f), 0x1d);
  EXPECT_FLOAT_EQ(round_to_e4m3(0.1f), 0.1015625f);
  EXPECT_FLOAT_EQ(round_to_e4m3(3.3f), 3.25f);  // 1.65 * 2: mantissa 5.2 -> 5
}

TEST(Fp8E4M3, SaturatesToPlusMinus448) {
  EXPECT_EQ(float_to_e4m3(448.0f), 0x7e);
  EXPECT_EQ(float_to_e4m3(464.0f), 0x7e);  // halfway to 480, which E4M3 cannot hold
  EXPECT_EQ(float_to_e4m3(1e9f), 0x7e);
  EXPECT_EQ(float_to_e4m3(INFINITY), 0x7e);
  EXPECT_EQ(float_to_e4m3(-500.0f), 0xfe);
  EXPECT_EQ(float_to_e4m3(NAN), 0x7f);
  EXPECT_FLOAT_EQ(e4m3_to_float(0x7e), 448.0f);
  EXPECT_TRUE(std::isnan(e4m3_to_float(0x7f)));
  EXPECT_TRUE(std::isnan(e4m3_to_float(0xff)));
}

TEST(Fp8E4M3, TiesRoundToEven) {
  EXPECT_FLOAT_EQ(round_to_e4m3(1.0625f), 1.0f);    // halfway 1.0 (mantissa 0) / 1.125 (1): even 0
  EXPECT_FLOAT_EQ(round_to_e4m3(1.1875f), 1.25f);   // halfway 1.125 (1) / 1.25 (2): even 2
  EXPECT_FLOAT_EQ(round_to_e4m3(17.0f), 16.0f);     // halfway 16 / 18
  EXPECT_FLOAT_EQ(round_to_e4m3(-19.0f), -20.0f);   // halfway 18 (1) / 20 (2)
  EXPECT_FLOAT_EQ(round_to_e4m3(1.9375f), 2.0f);    // halfway 1.875 (7) / 2.0: rounds into the next binade
}

TEST(Fp8E4M3, Subnormals) {
  // Below 2^-6 the step is 2^-9 and the code is the multiple of 2^-9.
  EXPECT_EQ(float_to_e4m3(0x1p-9f), 0x01);
  EXPECT_EQ(float_to_e4m3(0x1p-10f), 0x00);         // halfway 0 / 2^-9: even 0
  EXPECT_EQ(float_to_e4m3(3 * 0x1p-10f), 0x02);     // halfway 1 / 2 steps: even 2
  EXPECT_EQ(float_to_e4m3(7.5f * 0x1p-9f), 0x08);   // halfway 7 steps / 2^-6: even 8 = the smallest normal
  EXPECT_EQ(float_to_e4m3(0x1p-6f), 0x08);
  EXPECT_FLOAT_EQ(e4m3_to_float(0x07), 7 * 0x1p-9f);
  EXPECT_EQ(float_to_e4m3(0x1p-12f), 0x00);
}

TEST(Fp8E4M3, EveryFiniteCodeRoundTrips) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;  // NaN
    EXPECT_EQ(float_to_e4m3(e4m3_to_float(static_cast<uint8_t>(c))), c) << c;
  }
}

TEST(Fp8E4M3, PerChannelWeightScales) {
  const Tensor w = Tensor::from_vector<float>({2, 3}, {0.5f, -896.0f, 1.0f, 0.0f, 0.0f, 0.0f});
  const std::vector<float> s = fp8_per_channel_scales(w);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_FLOAT_EQ(s[0], 2.0f);  // max |w| / 448
  EXPECT_FLOAT_EQ(s[1], 1.0f);  // all-zero channel
}

TEST(Fp8Device, OlderGpusAreRefusedByName) {
  EXPECT_NO_THROW(require_fp8_device("NVIDIA H200", 9, 0));
  EXPECT_NO_THROW(require_fp8_device("NVIDIA L4", 8, 9));
  for (const auto& [name, major, minor] :
       {std::tuple<const char*, int, int>{"NVIDIA A100-SXM4-80GB", 8, 0}, {"Tesla T4", 7, 5}, {"NVIDIA A10", 8, 6}}) {
    try {
      require_fp8_device(name, major, minor);
      ADD_FAILURE() << name << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnimplemented);
      const std::string m = e.what();
      EXPECT_NE(m.find(name), std::string::npos) << m;
      EXPECT_NE(m.find(fmt::format("{}.{}", major, minor)), std::string::npos) << m;
      EXPECT_NE(m.find("8.9"), std::string::npos) << m;
    }
  }
}

}  // namespace
}  // namespace kiln::quant
