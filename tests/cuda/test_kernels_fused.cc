// Channel scale/shift + residual + activation, softmax / log-softmax, and the image
// input stage vs CPU loops.
#if KILN_HAVE_CUDA
#include <cmath>

#include "backends/cuda/kernels/channel_affine.h"
#include "backends/cuda/kernels/input_stage.h"
#include "backends/cuda/kernels/softmax.h"
#include "core/error.h"
#include "test_kernels_support.h"

namespace kiln::cuda::test {
namespace {

using kernels::ActivationKind;
using kernels::Layout;

TEST(KernelsChannelAffine, ScaleShiftResidualActivation) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 1;
  for (DType dtype : float_dtypes())
    for (Layout layout : {Layout::kNCHW, Layout::kNHWC})
      for (bool with_residual : {false, true})
        for (bool with_scale : {false, true}) {
          const int64_t n = 3, c = 13, spatial = 5 * 7;
          const int64_t count = n * c * spatial;
          auto x = round_to(dtype, random_floats(count, seed++, -2, 2));
          auto r = round_to(dtype, random_floats(count, seed++, -2, 2));
          auto scale = random_floats(c, seed++, 0.5f, 1.5f);
          auto shift = random_floats(c, seed++);
          kernels::ChannelAffineParams p;
          p.layout = layout; p.dtype = dtype; p.n = n; p.c = c; p.spatial = spatial;
          p.activation = {ActivationKind::kLeakyRelu, 0.1f, 0};
          std::vector<double> expected(count);
          for (int64_t i = 0; i < count; ++i) {
            const int64_t ch = layout == Layout::kNHWC ? i % c : (i / spatial) % c;
            double v = double(x[i]) * (with_scale ? scale[ch] : 1.0) + shift[ch] + (with_residual ? r[i] : 0.0);
            expected[i] = v >= 0 ? v : 0.1 * v;
          }
          auto dx = upload(dtype, x), dr = upload(dtype, r);
          auto ds = upload(DType::kF32, scale), dsh = upload(DType::kF32, shift);
          DeviceBuffer dy(count * dtype_size(dtype));
          ASSERT_EQ(kernels::channel_affine(p, dx->get(), with_scale ? ds->as<float>() : nullptr, dsh->as<float>(),
                                            with_residual ? dr->get() : nullptr, dy.get(), nullptr),
                    cudaSuccess);
          EXPECT_LT(rel_l2(download(dtype, dy.get(), count), expected), tolerance(dtype))
              << dtype_name(dtype) << " layout " << int(layout) << " residual " << with_residual;
        }
}

TEST(KernelsSoftmax, SoftmaxAndLogSoftmaxLastAxis) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 10;
  for (DType dtype : float_dtypes())
    for (bool log_softmax : {false, true})
      for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{3, 1000}, {1, 7}, {5, 1}, {2, 4099}}) {
        // Large logits: the max must be subtracted first.
        auto x = round_to(dtype, random_floats(rows * cols, seed++, -30, 60));
        std::vector<double> expected(rows * cols);
        for (int64_t r = 0; r < rows; ++r) {
          double m = -1e300, sum = 0;
          for (int64_t j = 0; j < cols; ++j) m = std::max(m, double(x[r * cols + j]));
          for (int64_t j = 0; j < cols; ++j) sum += std::exp(x[r * cols + j] - m);
          for (int64_t j = 0; j < cols; ++j) {
            const double z = x[r * cols + j] - m;
            expected[r * cols + j] = log_softmax ? z - std::log(sum) : std::exp(z) / sum;
          }
        }
        auto dx = upload(dtype, x);
        DeviceBuffer dy(rows * cols * 4);
        ASSERT_EQ(kernels::softmax_last_axis(dtype, rows, cols, dx->get(), dy.as<float>(), log_softmax, nullptr),
                  cudaSuccess);
        // Output is f32 and inputs are exact in every dtype, so the f32 bound applies.
        EXPECT_LT(rel_l2(download(DType::kF32, dy.get(), rows * cols), expected), 1e-5)
            << dtype_name(dtype) << " log " << log_softmax << " " << rows << "x" << cols;
      }
  EXPECT_THROW(kernels::softmax_last_axis(DType::kF32, 2, 0, nullptr, nullptr, false, nullptr), kiln::Error);
}

TEST(KernelsInputStage, NormalizeLayoutsDtypesAndBgr) {
  KILN_REQUIRE_GPU();
  struct Case { int64_t n, h, w; };
  // 8x8 takes the 4-pixel vector path, 7x5 the scalar one; batch 1 and 3.
  const std::vector<Case> cases = {{3, 8, 8}, {1, 7, 5}, {3, 7, 5}, {2, 224, 224}};
  uint32_t seed = 3;
  for (DType dtype : float_dtypes())
    for (Layout layout : {Layout::kNCHW, Layout::kNHWC})
      for (bool bgr : {false, true})
        for (const Case& cs : cases) {
          const int64_t pixels = cs.n * cs.h * cs.w;
          std::vector<uint8_t> img(pixels * 3);
          std::mt19937 rng(seed++);
          for (auto& b : img) b = static_cast<uint8_t>(rng());
          kernels::InputStageParams p;
          p.n = cs.n; p.height = cs.h; p.width = cs.w;
          p.mean[0] = 0.485f; p.mean[1] = 0.456f; p.mean[2] = 0.406f;
          p.std[0] = 0.229f; p.std[1] = 0.224f; p.std[2] = 0.225f;
          p.scale = 1.0f / 255.0f;
          p.bgr = bgr; p.layout = layout; p.out_dtype = dtype;
          std::vector<double> expected(pixels * 3);
          const int64_t hw = cs.h * cs.w;
          for (int64_t px = 0; px < pixels; ++px)
            for (int c = 0; c < 3; ++c) {
              const int src = bgr ? 2 - c : c;
              const double v = (img[px * 3 + src] * double(p.scale) - p.mean[c]) / p.std[c];
              const int64_t n = px / hw, i = px % hw;
              expected[layout == Layout::kNHWC ? px * 3 + c : (n * 3 + c) * hw + i] = v;
            }
          auto dx = upload_raw(img);
          DeviceBuffer dy(pixels * 3 * dtype_size(dtype));
          ASSERT_EQ(kernels::input_stage(p, dx->as<uint8_t>(), dy.get(), nullptr), cudaSuccess);
          EXPECT_LT(rel_l2(download(dtype, dy.get(), expected.size()), expected), tolerance(dtype))
              << dtype_name(dtype) << " layout " << int(layout) << " bgr " << bgr << " " << cs.h << "x" << cs.w;
        }
  kernels::InputStageParams bad;
  bad.n = 1; bad.height = 2; bad.width = 2; bad.std[1] = 0.0f;
  EXPECT_THROW(kernels::input_stage(bad, nullptr, nullptr, nullptr), kiln::Error);
}

}  // namespace
}  // namespace kiln::cuda::test
#endif  // KILN_HAVE_CUDA
