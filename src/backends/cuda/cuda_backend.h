// The CUDA backend: cuDNN convolutions, cuBLASLt GEMMs, own kernels, tactic selection.
#pragma once

#include <memory>

#include "engine/engine.h"
#include "engine/plan_format.h"

namespace kiln::cuda {

// Number of usable CUDA devices (0 when there is no driver or GPU).
int cuda_device_count();

std::unique_ptr<Backend> make_cuda_backend(int device_index);

// An engine from a plan written by a CUDA engine, on options.device ("cuda" / "cuda:N").
// Refuses (kFailedPrecondition) a plan built for another GPU model, compute capability or
// library major version; tactics come from the plan, nothing is timed again.
std::unique_ptr<Engine> load_cuda_plan(const Plan& plan, const BuildOptions& options);

}  // namespace kiln::cuda
