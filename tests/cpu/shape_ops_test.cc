// Shape and data-movement ops: Reshape, Flatten, Squeeze, Unsqueeze, Shape, Identity,
// Dropout, Transpose, Concat, Split, Slice, Gather, Pad, Cast.
#include "cpu_test_support.h"

namespace kiln::cpu::testing {
namespace {

Tensor iota_tensor(Dims dims) {
  std::vector<float> v(static_cast<size_t>(num_elements(dims)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return Tensor::from_vector<float>(std::move(dims), v);
}

TEST(Reshape, ZeroMinusOneAndAllowZero) {
  const Tensor x = random_tensor({2, 3, 4}, 401);
  const Tensor s1 = i64s({0, -1});
  const Tensor y = run1(make_node("Reshape"), {&x, &s1});
  EXPECT_EQ(y.dims(), (Dims{2, 12}));
  expect_close(y, x.to_doubles());
  const Tensor s2 = i64s({-1, 4, 0});
  expect_error(make_node("Reshape"), {&x, &s2}, "");  // 0 copies dim 2 = 4: 2*3*4 / 16 is not whole
  const Tensor empty = Tensor(DType::kF32, {0, 3});
  const Tensor s3 = i64s({3, 0});
  EXPECT_EQ(run1(make_node("Reshape", attrs({{"allowzero", int64_t{1}}})), {&empty, &s3}).dims(), (Dims{3, 0}));
  const Tensor bad = i64s({-1, -1});
  expect_error(make_node("Reshape"), {&x, &bad}, "more than one -1");
  const Tensor wrong = i64s({5, 5});
  expect_error(make_node("Reshape"), {&x, &wrong}, "cannot reshape");
}

TEST(Flatten, AxisVariants) {
  const Tensor x = random_tensor({2, 3, 4, 5}, 402);
  EXPECT_EQ(run1(make_node("Flatten"), {&x}).dims(), (Dims{2, 60}));
  EXPECT_EQ(run1(make_node("Flatten", attrs({{"axis", int64_t{0}}})), {&x}).dims(), (Dims{1, 120}));
  EXPECT_EQ(run1(make_node("Flatten", attrs({{"axis", int64_t{-1}}})), {&x}).dims(), (Dims{24, 5}));
  EXPECT_EQ(run1(make_node("Flatten", attrs({{"axis", int64_t{4}}})), {&x}).dims(), (Dims{120, 1}));
  expect_error(make_node("Flatten", attrs({{"axis", int64_t{5}}})), {&x}, "out of range");
}

TEST(SqueezeUnsqueeze, AxesAsInputs) {
  const Tensor x = random_tensor({1, 3, 1, 2}, 403);
  EXPECT_EQ(run1(make_node("Squeeze"), {&x}).dims(), (Dims{3, 2}));
  const Tensor ax = i64s({-2});
  EXPECT_EQ(run1(make_node("Squeeze"), {&x, &ax}).dims(), (Dims{1, 3, 2}));
  const Tensor bad = i64s({1});
  expect_error(make_node("Squeeze"), {&x, &bad}, "not 1");
  const Tensor y = random_tensor({3, 2}, 404);
  const Tensor ua = i64s({0, -1, 2});
  EXPECT_EQ(run1(make_node("Unsqueeze"), {&y, &ua}).dims(), (Dims{1, 3, 1, 2, 1}));
  const Tensor dup = i64s({1, 1});
  expect_error(make_node("Unsqueeze"), {&y, &dup}, "twice");
}

TEST(Shape, StartEnd) {
  const Tensor x = random_tensor({2, 3, 4, 5}, 405);
  expect_close(run1(make_node("Shape"), {&x}), std::vector<double>{2, 3, 4, 5}, Tolerance{0, 0});
  expect_close(run1(make_node("Shape", attrs({{"start", int64_t{1}}, {"end", int64_t{-1}}})), {&x}),
               std::vector<double>{3, 4}, Tolerance{0, 0});
  expect_close(run1(make_node("Shape", attrs({{"start", int64_t{-10}}, {"end", int64_t{10}}})), {&x}),
               std::vector<double>{2, 3, 4, 5}, Tolerance{0, 0});
}

TEST(Dropout, IdentityWithMask) {
  const Tensor x = random_tensor({3, 4}, 406);
  const std::vector<Tensor> out = run(make_node("Dropout", {}, 2), {&x});
  expect_close(out[0], x);
  EXPECT_EQ(out[1].dtype(), DType::kBool);
  expect_close(out[1], std::vector<double>(12, 1.0), Tolerance{0, 0});
  expect_close(run1(make_node("Identity"), {&x}), x);
}

TEST(Transpose, PermutationsMatchIndexMath) {
  const Tensor x = random_tensor({2, 3, 4, 5}, 407);
  const std::vector<double> v = x.to_doubles();
  for (const Ints& perm : {Ints{0, 2, 3, 1}, Ints{3, 2, 1, 0}, Ints{1, 0, 2, 3}, Ints{0, 1, 2, 3}}) {
    const Tensor y = run1(make_node("Transpose", attrs({{"perm", perm}})), {&x});
    Dims out;
    for (int64_t p : perm) out.push_back(x.dim(p));
    ASSERT_EQ(y.dims(), out);
    std::vector<double> expected;
    for (int64_t i = 0; i < y.numel(); ++i) {
      const std::vector<int64_t> oi = unravel(i, out);
      std::vector<int64_t> ii(4);
      for (int d = 0; d < 4; ++d) ii[perm[d]] = oi[d];
      expected.push_back(v[((ii[0] * 3 + ii[1]) * 4 + ii[2]) * 5 + ii[3]]);
    }
    expect_close(y, expected, dims_to_string(perm));
  }
  EXPECT_EQ(run1(make_node("Transpose"), {&x}).dims(), (Dims{5, 4, 3, 2}));
  const Tensor h = x.cast(DType::kF16);
  EXPECT_EQ(run1(make_node("Transpose"), {&h}).dtype(), DType::kF16);
  expect_error(make_node("Transpose", attrs({{"perm", Ints{0, 0, 1, 2}}})), {&x}, "not a permutation");
}

TEST(ConcatSplit, RoundTripOnEveryAxis) {
  const Tensor a = random_tensor({2, 3, 4}, 408), b = random_tensor({2, 3, 4}, 409);
  for (int64_t axis = -3; axis < 3; ++axis) {
    Dims bd = {2, 3, 4};
    bd[(axis + 3) % 3] = 1;
    const Tensor c = random_tensor(bd, 410);
    const Tensor y = run1(make_node("Concat", attrs({{"axis", axis}})), {&a, &c, &b});
    const int64_t ax = (axis + 3) % 3;
    // Reference by index: pick the source tensor from the coordinate along the axis.
    std::vector<double> expected;
    for (int64_t i = 0; i < y.numel(); ++i) {
      std::vector<int64_t> idx = unravel(i, y.dims());
      const int64_t k = idx[ax];
      const Tensor* src = k < a.dim(ax) ? &a : k < a.dim(ax) + 1 ? &c : &b;
      idx[ax] = k < a.dim(ax) ? k : k < a.dim(ax) + 1 ? 0 : k - a.dim(ax) - 1;
      int64_t off = 0;
      for (int d = 0; d < 3; ++d) off = off * src->dim(d) + idx[d];
      expected.push_back(src->to_doubles()[off]);
    }
    expect_close(y, expected, "concat axis " + std::to_string(axis));
    const Tensor sizes = i64s({a.dim(ax), 1, b.dim(ax)});
    const std::vector<Tensor> parts = run(make_node("Split", attrs({{"axis", axis}}), 3), {&y, &sizes});
    ASSERT_EQ(parts.size(), 3u);
    expect_close(parts[0], a);
    expect_close(parts[1], c);
    expect_close(parts[2], b);
  }
  const Tensor bad = random_tensor({2, 5, 4}, 411);
  expect_error(make_node("Concat", attrs({{"axis", int64_t{0}}})), {&a, &bad}, "does not match");
}

TEST(Split, EvenNumOutputsAndErrors) {
  const Tensor x = iota_tensor({7, 2});
  const std::vector<Tensor> parts = run(make_node("Split", attrs({{"num_outputs", int64_t{3}}}), 3), {&x});
  EXPECT_EQ(parts[0].dims(), (Dims{3, 2}));
  EXPECT_EQ(parts[2].dims(), (Dims{1, 2}));
  expect_close(parts[2], std::vector<double>{12, 13});
  const Tensor six = iota_tensor({6});
  const std::vector<Tensor> even = run(make_node("Split", {}, 2), {&six});
  expect_close(even[1], std::vector<double>{3, 4, 5});
  expect_error(make_node("Split", {}, 2), {&x}, "evenly");
  const Tensor wrong = i64s({3, 3});
  expect_error(make_node("Split", {}, 2), {&x, &wrong}, "add up to");
}

TEST(Slice, StepsClampingAndNegativeSteps) {
  const Tensor x = iota_tensor({4, 5});
  auto slice = [&](Ints starts, Ints ends, std::optional<Ints> axes, std::optional<Ints> steps) {
    const Tensor s = i64s(starts), e = i64s(ends);
    const Tensor a = axes ? i64s(*axes) : Tensor(), st = steps ? i64s(*steps) : Tensor();
    return run1(make_node("Slice"), {&x, &s, &e, axes ? &a : nullptr, steps ? &st : nullptr});
  };
  Tensor y = slice({1, 0}, {3, 5}, std::nullopt, Ints{1, 2});
  EXPECT_EQ(y.dims(), (Dims{2, 3}));
  expect_close(y, std::vector<double>{5, 7, 9, 10, 12, 14});
  y = slice({-1}, {-1000}, Ints{1}, Ints{-2});  // reverse columns with step 2
  EXPECT_EQ(y.dims(), (Dims{4, 3}));
  expect_close(y, std::vector<double>{4, 2, 0, 9, 7, 5, 14, 12, 10, 19, 17, 15});
  y = slice({0}, {INT64_MAX}, Ints{-2}, std::nullopt);
  EXPECT_EQ(y.dims(), (Dims{4, 5}));
  y = slice({10}, {20}, Ints{0}, std::nullopt);  // empty after clamping
  EXPECT_EQ(y.dims(), (Dims{0, 5}));
  y = slice({3, 4}, {0, 0}, Ints{0, 1}, Ints{-1, -3});
  expect_close(y, std::vector<double>{19, 16, 14, 11, 9, 6});
  const Tensor s = i64s({0}), e = i64s({1}), a = i64s({0}), zero = i64s({0});
  expect_error(make_node("Slice"), {&x, &s, &e, &a, &zero}, "step");
}

TEST(Gather, AnyAxisNegativeIndices) {
  const Tensor x = iota_tensor({3, 4, 2});
  const Tensor idx = i64s({2, 2}, {0, -1, 2, 1});
  const Tensor y = run1(make_node("Gather", attrs({{"axis", int64_t{1}}})), {&x, &idx});
  EXPECT_EQ(y.dims(), (Dims{3, 2, 2, 2}));
  std::vector<double> expected;
  const int64_t picks[] = {0, 3, 2, 1};
  for (int i = 0; i < 3; ++i)
    for (int64_t p : picks)
      for (int k = 0; k < 2; ++k) expected.push_back((i * 4 + p) * 2 + k);
  expect_close(y, expected);
  const Tensor scalar_idx = Tensor::from_vector<int32_t>({}, {-1});
  const Tensor row = run1(make_node("Gather"), {&x, &scalar_idx});
  EXPECT_EQ(row.dims(), (Dims{4, 2}));
  expect_close(row, std::vector<double>{16, 17, 18, 19, 20, 21, 22, 23});
  const Tensor out_of_range = i64s({3});
  expect_error(make_node("Gather"), {&x, &out_of_range}, "out of range");
}

TEST(Gather, RandomIndicesMatchIndexMath) {
  const Tensor x = random_tensor({4, 5, 3}, 420);
  const std::vector<double> v = x.to_doubles();
  for (int64_t axis = 0; axis < 3; ++axis) {
    const int64_t dim = x.dim(axis);
    const Tensor idx = random_ints<int64_t>({2, 3}, 421 + static_cast<uint32_t>(axis), static_cast<int>(-dim),
                                            static_cast<int>(dim - 1));
    const std::vector<int64_t> iv = idx.to_int64s();
    const Tensor y = run1(make_node("Gather", attrs({{"axis", axis}})), {&x, &idx});
    std::vector<double> expected;
    for (int64_t i = 0; i < y.numel(); ++i) {
      const std::vector<int64_t> o = unravel(i, y.dims());
      // Output coords: data[:axis], indices (2 dims), data[axis+1:].
      std::vector<int64_t> in(o.begin(), o.begin() + axis);
      int64_t pick = iv[o[axis] * 3 + o[axis + 1]];
      in.push_back(pick < 0 ? pick + dim : pick);
      in.insert(in.end(), o.begin() + axis + 2, o.end());
      expected.push_back(v[(in[0] * 5 + in[1]) * 3 + in[2]]);
    }
    expect_close(y, expected, "axis " + std::to_string(axis));
  }
}

TEST(Slice, RandomRangesMatchIndexMath) {
  const Tensor x = random_tensor({6, 7}, 430);
  const std::vector<double> v = x.to_doubles();
  std::mt19937 rng(431);
  std::uniform_int_distribution<int64_t> pos(-9, 9), step(-3, 3);
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t st = step(rng) == 0 ? 1 : step(rng);
    const int64_t begin = pos(rng), end = pos(rng);
    const Tensor s = i64s({begin}), e = i64s({end}), a = i64s({1}), p = i64s({st ? st : 1});
    const Tensor y = run1(make_node("Slice"), {&x, &s, &e, &a, &p});
    const int64_t step_v = st ? st : 1;
    // Reference: walk the clamped range one element at a time.
    int64_t b = begin < 0 ? begin + 7 : begin, en = end < 0 ? end + 7 : end;
    std::vector<int64_t> cols;
    if (step_v > 0) {
      b = std::clamp<int64_t>(b, 0, 7);
      en = std::clamp<int64_t>(en, 0, 7);
      for (int64_t c = b; c < en; c += step_v) cols.push_back(c);
    } else {
      b = std::clamp<int64_t>(b, 0, 6);
      en = std::clamp<int64_t>(en, -1, 6);
      for (int64_t c = b; c > en; c += step_v) cols.push_back(c);
    }
    ASSERT_EQ(y.dims(), (Dims{6, static_cast<int64_t>(cols.size())})) << begin << ":" << end << ":" << step_v;
    std::vector<double> expected;
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t c : cols) expected.push_back(v[r * 7 + c]);
    expect_close(y, expected);
  }
}

TEST(Pad, ConstantReflectEdgeAndAxes) {
  const Tensor x = iota_tensor({2, 3});
  const Tensor pads = i64s({0, 1, 1, 2});
  const Tensor value = Tensor::scalar<float>(-1.f);
  Tensor y = run1(make_node("Pad"), {&x, &pads, &value});
  EXPECT_EQ(y.dims(), (Dims{3, 6}));
  expect_close(y, std::vector<double>{-1, 0, 1, 2, -1, -1, -1, 3, 4, 5, -1, -1, -1, -1, -1, -1, -1, -1});
  y = run1(make_node("Pad", attrs({{"mode", std::string("reflect")}})), {&x, &pads});
  expect_close(y, std::vector<double>{1, 0, 1, 2, 1, 0, 4, 3, 4, 5, 4, 3, 1, 0, 1, 2, 1, 0});
  y = run1(make_node("Pad", attrs({{"mode", std::string("edge")}})), {&x, &pads});
  expect_close(y, std::vector<double>{0, 0, 1, 2, 2, 2, 3, 3, 4, 5, 5, 5, 3, 3, 4, 5, 5, 5});
  const Tensor axis_pads = i64s({1, 0}), axes = i64s({-1});
  y = run1(make_node("Pad"), {&x, &axis_pads, nullptr, &axes});
  expect_close(y, std::vector<double>{0, 0, 1, 2, 0, 3, 4, 5});
  const Tensor crop = i64s({0, -1, 0, 0});
  expect_close(run1(make_node("Pad"), {&x, &crop}), std::vector<double>{1, 2, 4, 5});
  const Tensor too_much = i64s({0, 3, 0, 0});
  expect_error(make_node("Pad", attrs({{"mode", std::string("reflect")}})), {&x, &too_much}, "smaller");
  expect_error(make_node("Pad", attrs({{"mode", std::string("mirror")}})), {&x, &pads}, "mirror");
  const Tensor short_pads = i64s({1});
  expect_error(make_node("Pad"), {&x, &short_pads}, "pads has 1 values");
}

TEST(Cast, AllTypesRoundTrip) {
  const Tensor x = Tensor::from_vector<float>({6}, {-2.7f, -0.5f, 0.f, 0.5f, 3.9f, 300.f});
  struct Want { int64_t onnx; DType dtype; std::vector<double> values; };
  const std::vector<Want> wants = {
      {7, DType::kI64, {-2, 0, 0, 0, 3, 300}},       {6, DType::kI32, {-2, 0, 0, 0, 3, 300}},
      {3, DType::kI8, {-2, 0, 0, 0, 3, 127}},         {2, DType::kU8, {0, 0, 0, 0, 3, 255}},
      {9, DType::kBool, {1, 1, 0, 1, 1, 1}},          {11, DType::kF64, {-2.7, -0.5, 0, 0.5, 3.9, 300}},
      {10, DType::kF16, {-2.69921875, -0.5, 0, 0.5, 3.900390625, 300}},
      {16, DType::kBF16, {-2.703125, -0.5, 0, 0.5, 3.90625, 300}}};
  for (const Want& w : wants) {
    const Tensor y = run1(make_node("Cast", attrs({{"to", w.onnx}})), {&x});
    EXPECT_EQ(y.dtype(), w.dtype) << w.onnx;
    expect_close(y, w.values, Tolerance{1e-6, 1e-6}, "to " + std::to_string(w.onnx));
  }
  const Tensor b = Tensor::from_vector<bool>({2}, {true, false});
  expect_close(run1(make_node("Cast", attrs({{"to", int64_t{1}}})), {&b}), std::vector<double>{1, 0});
  expect_error(make_node("Cast", attrs({{"to", int64_t{8}}})), {&x}, "not supported");
  expect_error(make_node("Cast"), {&x}, "\"to\"");
}

}  // namespace
}  // namespace kiln::cpu::testing
