// QuantizeLinear / DequantizeLinear: rounding half to even, saturation, zero points,
// per-tensor and per-axis parameters.
#include "cpu_test_support.h"

namespace kiln::cpu::testing {
namespace {

TEST(QuantizeLinear, RoundsHalfToEvenAndSaturates) {
  const Tensor x = Tensor::from_vector<float>({8}, {0.f, 0.5f, 1.5f, 2.5f, -2.5f, 1000.f, -1000.f, 3.7f});
  const Tensor scale = Tensor::scalar<float>(1.f);
  const Tensor zp_u8 = Tensor::scalar<uint8_t>(10);
  Tensor y = run1(make_node("QuantizeLinear"), {&x, &scale, &zp_u8});
  EXPECT_EQ(y.dtype(), DType::kU8);
  expect_close(y, std::vector<double>{10, 10, 12, 12, 8, 255, 0, 14}, Tolerance{0, 0});
  const Tensor zp_i8 = Tensor::scalar<int8_t>(-1);
  y = run1(make_node("QuantizeLinear"), {&x, &scale, &zp_i8});
  EXPECT_EQ(y.dtype(), DType::kI8);
  expect_close(y, std::vector<double>{-1, -1, 1, 1, -3, 127, -128, 3}, Tolerance{0, 0});
  y = run1(make_node("QuantizeLinear"), {&x, &scale});  // no zero point: u8, zero point 0
  EXPECT_EQ(y.dtype(), DType::kU8);
  expect_close(y, std::vector<double>{0, 0, 2, 2, 0, 255, 0, 4}, Tolerance{0, 0});
}

TEST(QuantizeLinear, PerAxisMatchesReferenceAndRoundTrips) {
  const Tensor x = random_tensor({2, 3, 4}, 601, -3.f, 3.f);
  const Tensor scale = Tensor::from_vector<float>({3}, {0.02f, 0.05f, 0.1f});
  const Tensor zp = Tensor::from_vector<int8_t>({3}, {0, 5, -7});
  const ir::Node q = make_node("QuantizeLinear", attrs({{"axis", int64_t{1}}}));
  const Tensor y = run1(q, {&x, &scale, &zp});
  const std::vector<double> v = x.to_doubles(), s = scale.to_doubles(), z = zp.to_doubles();
  std::vector<double> expected, restored;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = unravel(i, x.dims())[1];
    const double qv = std::clamp(std::nearbyint(static_cast<float>(v[i]) / static_cast<float>(s[c])) + z[c], -128.0, 127.0);
    expected.push_back(qv);
    restored.push_back((qv - z[c]) * s[c]);
  }
  expect_close(y, expected, Tolerance{0, 0});
  const Tensor back = run1(make_node("DequantizeLinear", attrs({{"axis", int64_t{1}}})), {&y, &scale, &zp});
  EXPECT_EQ(back.dtype(), DType::kF32);
  expect_close(back, restored);
  const Tensor wrong = Tensor::from_vector<float>({4}, {1, 1, 1, 1});
  expect_error(q, {&x, &wrong}, "per-axis");
  const Tensor zero = Tensor::scalar<float>(0.f);
  expect_error(q, {&x, &zero}, "non-zero");
}

TEST(DequantizeLinear, PerTensorAndInt32) {
  const Tensor x = Tensor::from_vector<uint8_t>({4}, {0, 128, 200, 255});
  const Tensor scale = Tensor::scalar<float>(0.5f), zp = Tensor::scalar<uint8_t>(128);
  expect_close(run1(make_node("DequantizeLinear"), {&x, &scale, &zp}), std::vector<double>{-64, 0, 36, 63.5});
  const Tensor xi = Tensor::from_vector<int32_t>({3}, {-1000, 0, 70000});
  expect_close(run1(make_node("DequantizeLinear"), {&xi, &scale}), std::vector<double>{-500, 0, 35000});
  const Tensor zp_i8 = Tensor::scalar<int8_t>(0);
  expect_error(make_node("DequantizeLinear"), {&x, &scale, &zp_i8}, "zero point");
  const Tensor f = Tensor::from_vector<float>({1}, {1});
  expect_error(make_node("DequantizeLinear"), {&f, &scale}, "u8, i8 or i32");
}

}  // namespace
}  // namespace kiln::cpu::testing
