// The CUDA engine: a lowered graph compiled into DeviceOps, its weights on the GPU, and
// execution contexts that each own an activation arena, pinned staging buffers, a compute
// stream plus host-to-device / device-to-host copy streams, cuDNN/cuBLASLt handles and one
// CUDA graph per batch size.
#pragma once

#include <memory>

#include "backends/cuda/device_info.h"
#include "backends/cuda/lower_for_device.h"
#include "engine/engine.h"
#include "engine/plan_format.h"

namespace kiln::cuda {

// Lowers, compiles, times tactics (reading and updating options.timing_cache_path) and
// uploads the weights. `graph` is optimized already for every precision but native.
// `int8_table` (int8 builds only): the activation ranges of `graph`'s values.
std::unique_ptr<Engine> build_cuda_engine(const ir::Graph& graph, const BuildOptions& options, int device,
                                          const quant::CalibrationTable* int8_table = nullptr);

// A plan written by a CUDA engine; refuses another GPU model / library major version
// (kFailedPrecondition) and never times tactics again.
std::unique_ptr<Engine> load_cuda_engine(const Plan& plan, int device);

}  // namespace kiln::cuda
