// A kernel that keeps the GPU busy for a while, so that work enqueued behind it is timed
// without the host's launch overhead: tactic timing records its start event after the
// delay, by which time the candidate's kernels are already queued. Without it a candidate
// whose library call spends 50-70 us on the host (cuDNN's legacy convolution API) measured
// that host time, not its GPU time, although engines replay CUDA graphs where host
// overhead does not exist; `--precision best` then compared those numbers with INT8 ones.
#pragma once

#include <cuda_runtime.h>

namespace kiln::cuda::kernels {

// One thread spins on the global timer for `microseconds`.
cudaError_t gpu_delay(double microseconds, cudaStream_t stream);

}  // namespace kiln::cuda::kernels
