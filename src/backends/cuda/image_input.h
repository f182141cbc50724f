// The raw-image input path (BuildOptions::image_input): rewrites a lowered graph so that
// its first input is uint8 [N, H, W, 3] RGB pixels and the normalization, the conversion
// to the activation dtype and the NHWC/NCHW order happen in one kiln.InputStage node
// (kernels/input_stage.h) instead of a host-side preprocessing pass plus a kiln.Convert.
#pragma once

#include "backends/cuda/lower_for_device.h"
#include "engine/engine.h"

namespace kiln::cuda {

// Throws kiln::Error (kInvalidArgument) when the first input is not f32 [N, 3, H, W] or a
// std is zero. The new input keeps the original input's name.
void add_image_input(LoweredGraph& lowered, const ImageInput& options);

}  // namespace kiln::cuda
