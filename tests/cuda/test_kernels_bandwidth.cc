// Achieved bandwidth of the memory-bound kernels that matter for ResNet-50 at batch 256:
// global average pooling of [256, 7, 7, 2048] NHWC and the input stage of 256 224x224
// RGB images. Prints GB/s (bytes read + written once / median time); the assertion is
// only that the kernels run, since bandwidth depends on the card.
#if KILN_HAVE_CUDA
#include <algorithm>
#include <cstdio>

#include "backends/cuda/kernels/input_stage.h"
#include "backends/cuda/kernels/pooling.h"
#include "test_kernels_support.h"

namespace kiln::cuda::test {
namespace {

template <typename Launch> double median_ms(Launch launch, int iterations = 50) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (int i = 0; i < 5; ++i) launch();  // warm-up
  std::vector<float> times;
  for (int i = 0; i < iterations; ++i) {
    cudaEventRecord(start);
    launch();
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void device_copy_bandwidth() {
  const size_t bytes = size_t(1) << 30;
  DeviceBuffer a(bytes), b(bytes);
  const double ms = median_ms([&] { cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice); }, 20);
  std::printf("[bandwidth] device-to-device copy 1 GiB: %.3f ms, %.0f GB/s (read + write)\n", ms, 2.0 * bytes / ms / 1e6);
}

TEST(KernelsBandwidth, GlobalAvgPoolAndInputStageResNet50Batch256) {
  KILN_REQUIRE_GPU();
  device_copy_bandwidth();
  const int64_t n = 256, c = 2048, spatial = 7 * 7;
  for (DType dtype : {DType::kF16, DType::kF32}) {
    for (kernels::Layout layout : {kernels::Layout::kNHWC, kernels::Layout::kNCHW}) {
      const size_t in_bytes = n * c * spatial * dtype_size(dtype), out_bytes = n * c * dtype_size(dtype);
      // Several input sets so repeated runs do not just hit the 50 MB L2.
      std::vector<std::unique_ptr<DeviceBuffer>> inputs;
      for (int i = 0; i < 4; ++i) inputs.push_back(upload(dtype, random_floats(n * c * spatial, 90 + i)));
      DeviceBuffer y(out_bytes);
      int which = 0;
      const double ms = median_ms([&] {
        ASSERT_EQ(kernels::global_pool(kernels::PoolKind::kAverage, layout, dtype, n, c, spatial,
                                       inputs[which++ % 4]->get(), y.get(), nullptr),
                  cudaSuccess);
      });
      std::printf("[bandwidth] global avg pool %s %s [256,7,7,2048]: %.4f ms, %.0f GB/s\n", dtype_name(dtype).data(),
                  layout == kernels::Layout::kNHWC ? "NHWC" : "NCHW", ms, (in_bytes + out_bytes) / ms / 1e6);
    }
  }
  const int64_t pixels = 256LL * 224 * 224;
  std::vector<uint8_t> img(pixels * 3);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>(i * 2654435761u >> 24);
  std::vector<std::unique_ptr<DeviceBuffer>> inputs;
  for (int i = 0; i < 2; ++i) inputs.push_back(upload_raw(img));
  for (DType dtype : {DType::kF16, DType::kF32})
    for (kernels::Layout layout : {kernels::Layout::kNCHW, kernels::Layout::kNHWC}) {
      kernels::InputStageParams p;
      p.n = 256; p.height = 224; p.width = 224;
      p.mean[0] = 0.485f; p.mean[1] = 0.456f; p.mean[2] = 0.406f;
      p.std[0] = 0.229f; p.std[1] = 0.224f; p.std[2] = 0.225f;
      p.scale = 1.0f / 255.0f; p.layout = layout; p.out_dtype = dtype;
      DeviceBuffer y(pixels * 3 * dtype_size(dtype));
      int which = 0;
      const double ms = median_ms([&] {
        ASSERT_EQ(kernels::input_stage(p, inputs[which++ % 2]->as<uint8_t>(), y.get(), nullptr), cudaSuccess);
      });
      const double bytes = pixels * 3.0 * (1 + dtype_size(dtype));
      std::printf("[bandwidth] input stage u8 -> %s %s [256,224,224,3]: %.4f ms, %.0f GB/s\n",
                  dtype_name(dtype).data(), layout == kernels::Layout::kNHWC ? "NHWC" : "NCHW", ms, bytes / ms / 1e6);
    }
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace
}  // namespace kiln::cuda::test
#endif  // KILN_HAVE_CUDA
