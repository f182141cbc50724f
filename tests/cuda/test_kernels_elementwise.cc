// Binary elementwise (same shape and broadcast) and unary activations vs CPU loops.
#if KILN_HAVE_CUDA
#include <cmath>

#include "backends/cuda/kernels/elementwise.h"
#include "core/error.h"
#include "test_kernels_support.h"

namespace kiln::cuda::test {
namespace {

using kernels::ActivationKind;
using kernels::BinaryOp;

double apply(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::kAdd: return a + b;
    case BinaryOp::kSub: return a - b;
    case BinaryOp::kMul: return a * b;
    case BinaryOp::kDiv: return a / b;
  }
  return 0;
}

// Numpy-broadcast reference over up to 6 dims.
std::vector<double> broadcast_reference(BinaryOp op, const Dims& ad, const std::vector<float>& a, const Dims& bd,
                                        const std::vector<float>& b) {
  const Dims out = broadcast_dims(ad, bd);
  const int64_t count = num_elements(out);
  std::vector<double> y(count);
  for (int64_t i = 0; i < count; ++i) {
    int64_t rest = i, ai = 0, bi = 0, a_stride = 1, b_stride = 1;
    for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
      const int64_t coord = rest % out[d];
      rest /= out[d];
      const int ad_i = d - static_cast<int>(out.size() - ad.size());
      const int bd_i = d - static_cast<int>(out.size() - bd.size());
      if (ad_i >= 0) {
        if (ad[ad_i] != 1) ai += coord * a_stride;
        a_stride *= ad[ad_i];
      }
      if (bd_i >= 0) {
        if (bd[bd_i] != 1) bi += coord * b_stride;
        b_stride *= bd[bd_i];
      }
    }
    y[i] = apply(op, a[ai], b[bi]);
  }
  return y;
}

void check_binary(BinaryOp op, DType dtype, const Dims& ad, const Dims& bd, uint32_t seed) {
  auto a = round_to(dtype, random_floats(num_elements(ad), seed));
  // Divisors kept away from zero so the relative error stays meaningful.
  auto b = round_to(dtype, random_floats(num_elements(bd), seed + 1, 0.5f, 2.0f));
  const auto expected = broadcast_reference(op, ad, a, bd, b);
  auto da = upload(dtype, a), db = upload(dtype, b);
  DeviceBuffer dy(expected.size() * dtype_size(dtype));
  ASSERT_EQ(kernels::binary(op, dtype, ad, da->get(), bd, db->get(), dy.get(), nullptr), cudaSuccess);
  const auto actual = download(dtype, dy.get(), expected.size());
  EXPECT_LT(rel_l2(actual, expected), tolerance(dtype))
      << "op " << int(op) << " dtype " << dtype_name(dtype) << " " << dims_to_string(ad) << " x " << dims_to_string(bd);
}

TEST(KernelsBinary, SameShapeAllOpsAllDtypes) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 10;
  for (DType dtype : float_dtypes())
    for (BinaryOp op : {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv}) {
      check_binary(op, dtype, {3, 7, 13, 11}, {3, 7, 13, 11}, seed++);  // odd count: vector body + tail
      check_binary(op, dtype, {1, 8, 64}, {1, 8, 64}, seed++);
    }
}

TEST(KernelsBinary, BroadcastShapes) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 100;
  const std::vector<std::pair<Dims, Dims>> cases = {
      {{3, 5, 7, 9}, {5, 1, 1}},       // per-channel bias
      {{3, 1, 7}, {4, 1}},             // both stretch
      {{1, 13}, {3, 1}},
      {{2, 3, 1, 5, 1, 3}, {3, 4, 1, 2, 1}},  // rank 6
      {{7}, {}},                        // scalar
  };
  for (DType dtype : float_dtypes())
    for (const auto& [ad, bd] : cases)
      for (BinaryOp op : {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv})
        check_binary(op, dtype, ad, bd, seed++);
}

TEST(KernelsBinary, BadShapesThrow) {
  // Validation happens before any launch, so this runs without a GPU too.
  EXPECT_THROW(kernels::binary(BinaryOp::kAdd, DType::kF32, {3, 4}, nullptr, {5}, nullptr, nullptr, nullptr),
               kiln::Error);
  EXPECT_THROW(kernels::binary(BinaryOp::kAdd, DType::kI64, {3}, nullptr, {3}, nullptr, nullptr, nullptr),
               kiln::Error);
  EXPECT_THROW(kernels::binary(BinaryOp::kAdd, DType::kF32, {2, 1, 1, 1, 1, 1, 2}, nullptr, {2, 1}, nullptr,
                               nullptr, nullptr),
               kiln::Error);
}

double activate(ActivationKind kind, double x, double alpha, double beta) {
  switch (kind) {
    case ActivationKind::kNone: return x;
    case ActivationKind::kRelu: return x > 0 ? x : 0;
    case ActivationKind::kClip: return std::min(std::max(x, alpha), beta);
    case ActivationKind::kLeakyRelu: return x >= 0 ? x : alpha * x;
    case ActivationKind::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case ActivationKind::kHardSigmoid: return std::min(std::max(alpha * x + beta, 0.0), 1.0);
    case ActivationKind::kHardSwish: return x * std::min(std::max(x / 6.0 + 0.5, 0.0), 1.0);
    case ActivationKind::kTanh: return std::tanh(x);
  }
  return x;
}

TEST(KernelsActivation, AllKindsAllDtypes) {
  KILN_REQUIRE_GPU();
  const std::vector<kernels::Activation> acts = {
      {ActivationKind::kRelu, 0, 0},          {ActivationKind::kClip, -0.5f, 2.0f},
      {ActivationKind::kLeakyRelu, 0.1f, 0},  {ActivationKind::kSigmoid, 0, 0},
      {ActivationKind::kHardSigmoid, 0.2f, 0.5f}, {ActivationKind::kHardSwish, 0, 0},
      {ActivationKind::kTanh, 0, 0},          {ActivationKind::kNone, 0, 0}};
  uint32_t seed = 300;
  for (DType dtype : float_dtypes())
    for (const auto& act : acts)
      for (int64_t count : {1, 1003, 4096}) {
        auto x = round_to(dtype, random_floats(count, seed++, -6.0f, 6.0f));
        std::vector<double> expected(count);
        for (int64_t i = 0; i < count; ++i) expected[i] = activate(act.kind, x[i], act.alpha, act.beta);
        auto dx = upload(dtype, x);
        DeviceBuffer dy(count * dtype_size(dtype));
        ASSERT_EQ(kernels::activation(act, dtype, count, dx->get(), dy.get(), nullptr), cudaSuccess);
        EXPECT_LT(rel_l2(download(dtype, dy.get(), count), expected), tolerance(dtype) * 2)
            << "kind " << int(act.kind) << " " << dtype_name(dtype) << " n=" << count;
      }
}

TEST(KernelsActivation, NamesMapToKinds) {
  EXPECT_EQ(kernels::activation_from_name("hard_swish", 0, 0).kind, ActivationKind::kHardSwish);
  EXPECT_EQ(kernels::activation_from_name("none", 0, 0).kind, ActivationKind::kNone);
  EXPECT_THROW(kernels::activation_from_name("swish", 0, 0), kiln::Error);
}

}  // namespace
}  // namespace kiln::cuda::test
#endif  // KILN_HAVE_CUDA
