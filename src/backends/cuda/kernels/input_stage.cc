#include "backends/cuda/kernels/input_stage.h"

#include "core/error.h"

namespace kiln::cuda::kernels {

cudaError_t input_stage(const InputStageParams& p, const uint8_t* x, void* y, cudaStream_t stream) {
  check_kernel_float(p.out_dtype, "input_stage");
  KILN_CHECK(p.n >= 0 && p.height >= 0 && p.width >= 0, "input_stage: bad image batch [{}, {}, {}, 3]", p.n,
             p.height, p.width);
  detail::InputStageFolded f;
  for (int c = 0; c < 3; ++c) {
    KILN_CHECK(p.std[c] != 0.0f, "input_stage: std of channel {} is 0", c);
    f.mul[c] = p.scale / p.std[c];
    f.add[c] = -p.mean[c] / p.std[c];
  }
  f.pixels_per_image = p.height * p.width;
  f.total_pixels = p.n * f.pixels_per_image;
  f.bgr = p.bgr;
  f.layout = p.layout;
  if (f.total_pixels == 0) return cudaSuccess;
  KILN_CHECK(x && y, "input_stage: null device pointer");
  return detail::launch_input_stage(f, p.out_dtype, x, y, stream);
}

}  // namespace kiln::cuda::kernels
