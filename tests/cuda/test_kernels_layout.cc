// Transposes, casts, strided copies (Slice/Concat/Split/Pad) and Gather vs CPU loops.
// These move bytes, so they are checked for exact equality.
#if KILN_HAVE_CUDA
#include <numeric>

#include "backends/cuda/kernels/cast.h"
#include "backends/cuda/kernels/gather.h"
#include "backends/cuda/kernels/strided_copy.h"
#include "backends/cuda/kernels/thin_nhwc.h"
#include "backends/cuda/kernels/transpose.h"
#include "core/error.h"
#include "test_kernels_support.h"

namespace kiln::cuda::test {
namespace {

template <typename T> std::vector<T> random_ints(size_t count, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> v(count);
  for (T& x : v) x = static_cast<T>(rng());
  return v;
}

template <typename T> std::vector<T> transpose_reference(const std::vector<T>& x, const Dims& in, const std::vector<int64_t>& perm) {
  Dims out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = in[perm[i]];
  const auto in_strides = strides_of(in);
  std::vector<T> y(x.size());
  for (int64_t i = 0; i < static_cast<int64_t>(y.size()); ++i) {
    int64_t rest = i, src = 0;
    for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
      src += (rest % out[d]) * in_strides[perm[d]];
      rest /= out[d];
    }
    y[i] = x[src];
  }
  return y;
}

template <typename T> void check_transpose(const Dims& in, const std::vector<int64_t>& perm, uint32_t seed) {
  auto x = random_ints<T>(num_elements(in), seed);
  auto expected = transpose_reference(x, in, perm);
  auto dx = upload_raw(x);
  DeviceBuffer dy(x.size() * sizeof(T));
  ASSERT_EQ(kernels::transpose(sizeof(T), in, perm, dx->get(), dy.get(), nullptr), cudaSuccess);
  EXPECT_EQ(download_raw<T>(dy.get(), x.size()), expected) << dims_to_string(in) << " elem " << sizeof(T);
}

TEST(KernelsTranspose, ImageLayoutsAndGeneralPerms) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 1;
  for (const Dims& d : std::vector<Dims>{{1, 3, 7, 9}, {3, 13, 5, 5}, {2, 64, 33, 31}, {1, 1, 1, 1}}) {
    check_transpose<uint16_t>(d, {0, 2, 3, 1}, seed++);
    check_transpose<uint32_t>(d, {0, 2, 3, 1}, seed++);
    check_transpose<uint16_t>(d, {0, 3, 1, 2}, seed++);
    check_transpose<uint8_t>(d, {0, 3, 1, 2}, seed++);
  }
  check_transpose<uint64_t>({2, 3, 4, 5, 3}, {4, 2, 0, 3, 1}, seed++);
  check_transpose<uint32_t>({2, 1, 3, 2, 5, 3}, {5, 4, 3, 2, 1, 0}, seed++);
  check_transpose<uint16_t>({7, 11}, {1, 0}, seed++);
}

// The fused cast + NCHW->NHWC of thin tensors: exactly the cast of the transposed values.
TEST(KernelsThinNhwc, CastAndLayoutInOnePass) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 40;
  const std::vector<std::pair<DType, DType>> pairs = {
      {DType::kF32, DType::kF16}, {DType::kF32, DType::kF32}, {DType::kF16, DType::kF32}, {DType::kF32, DType::kBF16}};
  for (const auto& [from, to] : pairs)
    for (int64_t c : {1, 3, 4, 8}) {
      const int64_t n = 3, h = 7, w = 9;
      const auto x = round_to(from, random_floats(n * c * h * w, seed++, -3.0f, 3.0f));
      std::vector<float> want(x.size());
      for (int64_t in = 0; in < n; ++in)
        for (int64_t ic = 0; ic < c; ++ic)
          for (int64_t s = 0; s < h * w; ++s) want[(in * h * w + s) * c + ic] = round_to(to, x[(in * c + ic) * h * w + s]);
      auto dx = upload(from, x);
      DeviceBuffer dy(x.size() * dtype_size(to));
      ASSERT_EQ(kernels::thin_nchw_to_nhwc(from, to, n, c, h * w, dx->get(), dy.get(), nullptr), cudaSuccess);
      EXPECT_EQ(download(to, dy.get(), x.size()), want) << dtype_name(from) << "->" << dtype_name(to) << " c=" << c;
    }
  EXPECT_EQ(kernels::thin_nchw_to_nhwc(DType::kF32, DType::kF16, 1, 9, 4, nullptr, nullptr, nullptr),
            cudaErrorInvalidValue);
}

TEST(KernelsTranspose, ExplicitLayoutHelpersRoundTrip) {
  KILN_REQUIRE_GPU();
  const int64_t n = 3, c = 13, h = 7, w = 5;
  auto x = random_ints<uint16_t>(n * c * h * w, 9);
  auto dx = upload_raw(x);
  DeviceBuffer mid(x.size() * 2), back(x.size() * 2);
  ASSERT_EQ(kernels::nchw_to_nhwc(2, n, c, h, w, dx->get(), mid.get(), nullptr), cudaSuccess);
  EXPECT_EQ(download_raw<uint16_t>(mid.get(), x.size()), transpose_reference(x, {n, c, h, w}, {0, 2, 3, 1}));
  ASSERT_EQ(kernels::nhwc_to_nchw(2, n, c, h, w, mid.get(), back.get(), nullptr), cudaSuccess);
  EXPECT_EQ(download_raw<uint16_t>(back.get(), x.size()), x);
}

TEST(KernelsTranspose, BadPermThrows) {
  EXPECT_THROW(kernels::transpose(4, {2, 3}, {0, 0}, nullptr, nullptr, nullptr), kiln::Error);
  EXPECT_THROW(kernels::transpose(3, {2, 3}, {1, 0}, nullptr, nullptr, nullptr), kiln::Error);
  EXPECT_THROW(kernels::transpose(4, {1, 1, 1, 1, 1, 1, 1}, {0, 1, 2, 3, 4, 5, 6}, nullptr, nullptr, nullptr),
               kiln::Error);
}

TEST(KernelsCast, FloatPairsAndU8) {
  KILN_REQUIRE_GPU();
  const int64_t count = 1001;
  uint32_t seed = 20;
  for (DType from : float_dtypes())
    for (DType to : float_dtypes()) {
      auto x = round_to(from, random_floats(count, seed++, -100.0f, 100.0f));
      std::vector<double> expected(x.begin(), x.end());
      auto dx = upload(from, x);
      DeviceBuffer dy(count * dtype_size(to));
      ASSERT_EQ(kernels::cast(from, to, count, dx->get(), dy.get(), nullptr), cudaSuccess);
      const auto y = download(to, dy.get(), count);
      EXPECT_LT(rel_l2(y, expected), tolerance(to)) << dtype_name(from) << "->" << dtype_name(to);
      // Round to nearest even, as the host conversions do.
      for (int64_t i = 0; i < count; ++i) ASSERT_EQ(y[i], round_to(to, x[i])) << i;
    }
  std::vector<uint8_t> bytes(count);
  for (int64_t i = 0; i < count; ++i) bytes[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  auto du8 = upload_raw(bytes);
  for (DType to : float_dtypes()) {
    DeviceBuffer dy(count * dtype_size(to));
    ASSERT_EQ(kernels::cast(DType::kU8, to, count, du8->get(), dy.get(), nullptr), cudaSuccess);
    const auto y = download(to, dy.get(), count);
    for (int64_t i = 0; i < count; ++i) ASSERT_EQ(y[i], round_to(to, float(bytes[i]))) << dtype_name(to) << " " << i;
  }
  EXPECT_THROW(kernels::cast(DType::kF32, DType::kI64, 4, nullptr, nullptr, nullptr), kiln::Error);
}

TEST(KernelsStridedCopy, SliceWithStepsIncludingNegative) {
  KILN_REQUIRE_GPU();
  const Dims in = {3, 10, 7};
  auto x = random_ints<uint32_t>(num_elements(in), 5);
  const std::vector<int64_t> starts = {1, 9, 0}, steps = {1, -3, 2};
  const Dims out = {2, 4, 4};
  std::vector<uint32_t> expected;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 4; ++k) expected.push_back(x[((1 + i) * 10 + (9 - 3 * j)) * 7 + 2 * k]);
  auto dx = upload_raw(x);
  DeviceBuffer dy(expected.size() * 4);
  ASSERT_EQ(kernels::slice(4, in, starts, steps, out, dx->get(), dy.get(), nullptr), cudaSuccess);
  EXPECT_EQ(download_raw<uint32_t>(dy.get(), expected.size()), expected);
  EXPECT_THROW(kernels::slice(4, in, {0, 0, 0}, {1, 1, 1}, {3, 11, 7}, dx->get(), dy.get(), nullptr), kiln::Error);
}

TEST(KernelsStridedCopy, ConcatThenSplitRoundTrip) {
  KILN_REQUIRE_GPU();
  // Concat [2,3,5] + [2,4,5] + [2,1,5] on axis 1 -> [2,8,5], then split back.
  const std::vector<Dims> parts = {{2, 3, 5}, {2, 4, 5}, {2, 1, 5}};
  std::vector<std::vector<uint16_t>> host;
  std::vector<std::unique_ptr<DeviceBuffer>> dev;
  for (size_t i = 0; i < parts.size(); ++i) {
    host.push_back(random_ints<uint16_t>(num_elements(parts[i]), 40 + i));
    dev.push_back(upload_raw(host.back()));
  }
  DeviceBuffer joined(2 * 8 * 5 * 2);
  int64_t offset = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    ASSERT_EQ(kernels::copy_into_axis(2, parts[i], 1, 8, offset, dev[i]->get(), joined.get(), nullptr), cudaSuccess);
    offset += parts[i][1];
  }
  const auto y = download_raw<uint16_t>(joined.get(), 80);
  for (int64_t n = 0; n < 2; ++n) {
    int64_t row = 0;
    for (size_t i = 0; i < parts.size(); ++i)
      for (int64_t r = 0; r < parts[i][1]; ++r, ++row)
        for (int64_t k = 0; k < 5; ++k)
          ASSERT_EQ(y[(n * 8 + row) * 5 + k], host[i][(n * parts[i][1] + r) * 5 + k]);
  }
  offset = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    DeviceBuffer part(host[i].size() * 2);
    ASSERT_EQ(kernels::copy_from_axis(2, parts[i], 1, 8, offset, joined.get(), part.get(), nullptr), cudaSuccess);
    EXPECT_EQ(download_raw<uint16_t>(part.get(), host[i].size()), host[i]);
    offset += parts[i][1];
  }
  EXPECT_THROW(kernels::copy_into_axis(2, {2, 4, 5}, 1, 8, 5, dev[1]->get(), joined.get(), nullptr), kiln::Error);
}

TEST(KernelsStridedCopy, PadConstantWithCrop) {
  KILN_REQUIRE_GPU();
  for (DType dtype : float_dtypes()) {
    const Dims in = {1, 3, 5, 4};
    const std::vector<int64_t> begin = {0, 1, 2, -1}, end = {1, 0, 1, 2};
    auto x = round_to(dtype, random_floats(num_elements(in), 77));
    const Dims out = {2, 4, 8, 5};
    std::vector<double> expected;
    for (int64_t a = 0; a < out[0]; ++a)
      for (int64_t b = 0; b < out[1]; ++b)
        for (int64_t c = 0; c < out[2]; ++c)
          for (int64_t d = 0; d < out[3]; ++d) {
            const int64_t ia = a - begin[0], ib = b - begin[1], ic = c - begin[2], id = d - begin[3];
            const bool inside = ia >= 0 && ia < in[0] && ib >= 0 && ib < in[1] && ic >= 0 && ic < in[2] && id >= 0 &&
                                id < in[3];
            expected.push_back(inside ? x[((ia * in[1] + ib) * in[2] + ic) * in[3] + id] : 0.75);
          }
    auto dx = upload(dtype, x);
    DeviceBuffer dy(expected.size() * dtype_size(dtype));
    ASSERT_EQ(kernels::pad_constant(dtype, in, begin, end, 0.75, dx->get(), dy.get(), nullptr), cudaSuccess);
    const auto y = download(dtype, dy.get(), expected.size());
    for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], float(expected[i])) << dtype_name(dtype) << " " << i;
  }
}

TEST(KernelsGather, AxisWithNegativeIndices) {
  KILN_REQUIRE_GPU();
  const Dims data_dims = {3, 7, 5};
  auto data = random_ints<uint32_t>(num_elements(data_dims), 3);
  const std::vector<int64_t> indices = {0, 6, -1, 3, -7, 2};
  std::vector<uint32_t> expected;
  for (int64_t o = 0; o < 3; ++o)
    for (int64_t idx : indices)
      for (int64_t i = 0; i < 5; ++i) expected.push_back(data[(o * 7 + (idx < 0 ? idx + 7 : idx)) * 5 + i]);
  auto dd = upload_raw(data);
  auto di = upload_raw(indices);
  DeviceBuffer dy(expected.size() * 4);
  ASSERT_EQ(kernels::gather(4, data_dims, 1, di->as<int64_t>(), indices.size(), dd->get(), dy.get(), nullptr),
            cudaSuccess);
  EXPECT_EQ(download_raw<uint32_t>(dy.get(), expected.size()), expected);
  // Axis 0 and f16-sized elements.
  auto data16 = random_ints<uint16_t>(num_elements(data_dims), 4);
  auto d16 = upload_raw(data16);
  const std::vector<int64_t> rows = {2, 0, -2};
  auto dr = upload_raw(rows);
  DeviceBuffer dy16(3 * 35 * 2);
  ASSERT_EQ(kernels::gather(2, data_dims, 0, dr->as<int64_t>(), 3, d16->get(), dy16.get(), nullptr), cudaSuccess);
  const auto y16 = download_raw<uint16_t>(dy16.get(), 105);
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 35; ++i) ASSERT_EQ(y16[r * 35 + i], data16[(rows[r] < 0 ? rows[r] + 3 : rows[r]) * 35 + i]);
  EXPECT_THROW(kernels::gather(4, data_dims, 3, nullptr, 1, nullptr, nullptr, nullptr), kiln::Error);
}

}  // namespace
}  // namespace kiln::cuda::test
#endif  // KILN_HAVE_CUDA
