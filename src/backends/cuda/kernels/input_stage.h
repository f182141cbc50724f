// The input stage: a batch of decoded uint8 RGB images becomes the network's normalized
// input in one pass over memory.
//
// Contract: x is a device array uint8 [N, H, W, 3] (RGB, packed rows); y is f32/f16/bf16
// [N, 3, H, W] (NCHW) or [N, H, W, 3] (NHWC). For output channel c (in output order):
//   y = (x * scale - mean[c]) / std[c]
// With bgr = true the output channels are B, G, R (Caffe-style models), and mean/std are
// given in that output order. When H*W (NCHW) or N*H*W (NHWC) is a multiple of 4 and the
// pointers are aligned, each thread converts 4 pixels with 12-byte loads and vector stores.
#pragma once

#include <cstdint>

#include "backends/cuda/kernels/kernel_types.h"

namespace kiln::cuda::kernels {

struct InputStageParams {
  int64_t n = 0, height = 0, width = 0;
  float mean[3] = {0.0f, 0.0f, 0.0f};
  float std[3] = {1.0f, 1.0f, 1.0f};
  float scale = 1.0f;
  bool bgr = false;
  Layout layout = Layout::kNCHW;
  DType out_dtype = DType::kF32;
};

// Throws kiln::Error on a zero std, negative sizes or an unsupported output dtype.
cudaError_t input_stage(const InputStageParams& params, const uint8_t* x, void* y, cudaStream_t stream);

namespace detail {
// Folded form: y = x * mul[c] + add[c], with c in output order.
struct InputStageFolded {
  int64_t pixels_per_image = 0;
  int64_t total_pixels = 0;
  float mul[3] = {};
  float add[3] = {};
  bool bgr = false;
  Layout layout = Layout::kNCHW;
};
cudaError_t launch_input_stage(const InputStageFolded& folded, DType out_dtype, const uint8_t* x, void* y,
                               cudaStream_t stream);
}  // namespace detail

}  // namespace kiln::cuda::kernels
