// Broadcasting arithmetic and activations against per-element references.
#include "cpu_test_support.h"

namespace kiln::cpu::testing {
namespace {

double apply(const std::string& op, double a, double b) {
  if (op == "Add") return a + b;
  if (op == "Sub") return a - b;
  if (op == "Mul") return a * b;
  return a / b;
}

TEST(Arithmetic, BroadcastFloatMatchesIndexReference) {
  const std::vector<std::pair<Dims, Dims>> shapes = {
      {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {4}},    {{2, 3, 4}, {3, 1}}, {{1, 3, 1}, {2, 1, 5}},
      {{5}, {}},              {{}, {2, 2}},        {{2, 1, 4, 1}, {3, 1, 6}}, {{0, 3}, {3}}};
  uint32_t seed = 200;
  for (const std::string op : {"Add", "Sub", "Mul", "Div"}) {
    for (const auto& [ad, bd] : shapes) {
      const Tensor a = random_tensor(ad, seed++, 0.5f, 2.f), b = random_tensor(bd, seed++, 0.5f, 2.f);
      const Tensor y = run1(make_node(op), {&a, &b});
      const Dims out = broadcast_dims(ad, bd);
      ASSERT_EQ(y.dims(), out) << op;
      const std::vector<double> x = a.to_doubles(), z = b.to_doubles();
      std::vector<double> expected;
      for (int64_t i = 0; i < num_elements(out); ++i) {
        const std::vector<int64_t> idx = unravel(i, out);
        expected.push_back(apply(op, x[broadcast_offset(idx, ad)], z[broadcast_offset(idx, bd)]));
      }
      expect_close(y, expected, op + " " + dims_to_string(ad) + " " + dims_to_string(bd));
    }
  }
}

TEST(Arithmetic, IntegerTypesTruncateDivision) {
  const Tensor a = Tensor::from_vector<int64_t>({2, 3}, {7, -7, 9, 100, 5, -1});
  const Tensor b = Tensor::from_vector<int64_t>({3}, {2, 2, -4});
  expect_close(run1(make_node("Add"), {&a, &b}), std::vector<double>{9, -5, 5, 102, 7, -5}, Tolerance{0, 0});
  expect_close(run1(make_node("Div"), {&a, &b}), std::vector<double>{3, -3, -2, 50, 2, 0}, Tolerance{0, 0});
  const Tensor c = Tensor::from_vector<int32_t>({3}, {1, 2, 3}), d = Tensor::from_vector<int32_t>({1}, {-4});
  const Tensor y = run1(make_node("Mul"), {&c, &d});
  EXPECT_EQ(y.dtype(), DType::kI32);
  expect_close(y, std::vector<double>{-4, -8, -12}, Tolerance{0, 0});
  const Tensor u = Tensor::from_vector<uint8_t>({2}, {200, 3}), v = Tensor::from_vector<uint8_t>({2}, {50, 4});
  expect_close(run1(make_node("Sub"), {&u, &v}), std::vector<double>{150, 255}, Tolerance{0, 0});  // wraps like ONNX
}

TEST(Arithmetic, HalfTypesComputeInFloat) {
  const Tensor a = random_tensor({3, 4}, 210).cast(DType::kF16), b = random_tensor({4}, 211).cast(DType::kF16);
  const Tensor y = run1(make_node("Mul"), {&a, &b});
  EXPECT_EQ(y.dtype(), DType::kF16);
  const std::vector<double> x = a.to_doubles(), z = b.to_doubles();
  std::vector<double> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(x[i] * z[i % 4]);
  expect_close(y, expected);
}

TEST(Sum, VariadicBroadcast) {
  const Tensor a = random_tensor({2, 3}, 220), b = random_tensor({3}, 221), c = random_tensor({2, 1}, 222);
  const Tensor y = run1(make_node("Sum"), {&a, &b, &c});
  const std::vector<double> x = a.to_doubles(), p = b.to_doubles(), q = c.to_doubles();
  std::vector<double> expected;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) expected.push_back(x[i * 3 + j] + p[j] + q[i]);
  expect_close(y, expected);
  expect_close(run1(make_node("Sum"), {&a}), a);
}

TEST(ArithmeticErrors, ShapesTypesAndZeroDivisor) {
  const Tensor a = random_tensor({2, 3}, 230), b = random_tensor({4}, 231);
  expect_error(make_node("Add"), {&a, &b}, "do not broadcast");
  const Tensor i = Tensor::from_vector<int32_t>({3}, {1, 2, 3});
  expect_error(make_node("Add"), {&a, &i}, "different dtypes");
  const Tensor zero = Tensor::from_vector<int32_t>({3}, {1, 0, 3});
  expect_error(make_node("Div"), {&i, &zero}, "division by zero");
  expect_error(make_node("Mul"), {&a}, "missing required input 1");
}

struct UnaryCase {
  std::string op;
  ir::Attributes attrs;
  double (*f)(double);
};

TEST(Activations, MatchReferenceOnRandomInputs) {
  const std::vector<UnaryCase> cases = {
      {"Relu", {}, [](double v) { return std::max(0.0, v); }},
      {"LeakyRelu", attrs({{"alpha", 0.2f}}), [](double v) { return v >= 0 ? v : 0.2 * v; }},
      {"LeakyRelu", {}, [](double v) { return v >= 0 ? v : 0.01 * v; }},
      {"Sigmoid", {}, [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"HardSigmoid", {}, [](double v) { return std::clamp(0.2 * v + 0.5, 0.0, 1.0); }},
      {"HardSigmoid", attrs({{"alpha", 0.5f}, {"beta", 0.25f}}), [](double v) { return std::clamp(0.5 * v + 0.25, 0.0, 1.0); }},
      {"HardSwish", {}, [](double v) { return v * std::clamp(v / 6 + 0.5, 0.0, 1.0); }},
      {"Tanh", {}, [](double v) { return std::tanh(v); }},
  };
  const Tensor x = random_tensor({3, 5, 7}, 240, -8.f, 8.f);
  for (const UnaryCase& c : cases) {
    std::vector<double> expected = x.to_doubles();
    for (double& v : expected) v = c.f(v);
    expect_close(run1(make_node(c.op, c.attrs), {&x}), expected, c.op);
    const Tensor xd = x.cast(DType::kF64);
    expect_close(run1(make_node(c.op, c.attrs), {&xd}), expected, Tolerance{1e-6, 1e-6}, c.op + " f64");
    const Tensor xh = x.cast(DType::kF16);
    std::vector<double> eh = xh.to_doubles();
    for (double& v : eh) v = c.f(v);
    const Tensor yh = run1(make_node(c.op, c.attrs), {&xh});
    EXPECT_EQ(yh.dtype(), DType::kF16);
    expect_close(yh, eh, Tolerance{5e-3, 2e-3}, c.op + " f16");
  }
}

TEST(Activations, SigmoidSaturatesWithoutOverflow) {
  const Tensor x = Tensor::from_vector<float>({4}, {-1000.f, -20.f, 20.f, 1000.f});
  expect_close(run1(make_node("Sigmoid"), {&x}), std::vector<double>{0, 2.0611536e-9, 1, 1});
}

TEST(Clip, BoundsAsOptionalInputs) {
  const Tensor x = Tensor::from_vector<float>({5}, {-3, -0.5f, 0, 0.5f, 3});
  const Tensor lo = Tensor::scalar<float>(-1), hi = Tensor::scalar<float>(1);
  expect_close(run1(make_node("Clip"), {&x, &lo, &hi}), std::vector<double>{-1, -0.5, 0, 0.5, 1});
  expect_close(run1(make_node("Clip"), {&x, nullptr, &hi}), std::vector<double>{-3, -0.5, 0, 0.5, 1});
  expect_close(run1(make_node("Clip"), {&x, &lo}), std::vector<double>{-1, -0.5, 0, 0.5, 3});
  expect_close(run1(make_node("Clip"), {&x}), x);
  const Tensor xi = Tensor::from_vector<int64_t>({4}, {-9, -2, 4, 10});
  const Tensor li = Tensor::scalar<int64_t>(-3), hi_i = Tensor::scalar<int64_t>(5);
  expect_close(run1(make_node("Clip"), {&xi, &li, &hi_i}), std::vector<double>{-3, -2, 4, 5}, Tolerance{0, 0});
  const Tensor bad = Tensor::from_vector<float>({2}, {0, 1});
  expect_error(make_node("Clip"), {&x, &bad}, "scalar");
}

TEST(Relu, IntegerInput) {
  const Tensor x = Tensor::from_vector<int8_t>({4}, {-128, -1, 0, 127});
  expect_close(run1(make_node("Relu"), {&x}), std::vector<double>{0, 0, 0, 127}, Tolerance{0, 0});
  const Tensor s = Tensor::from_vector<int32_t>({1}, {1});
  expect_error(make_node("Sigmoid"), {&s}, "float");
}

}  // namespace
}  // namespace kiln::cpu::testing
