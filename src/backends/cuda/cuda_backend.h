// The CUDA backend: cuDNN convolutions, cuBLASLt GEMMs, own kernels, tactic selection.
#pragma once

#include <memory>

#include "engine/engine.h"

namespace kiln::cuda {

// Number of usable CUDA devices (0 when there is no driver or GPU).
int cuda_device_count();

std::unique_ptr<Backend> make_cuda_backend(int device_index);

}  // namespace kiln::cuda
