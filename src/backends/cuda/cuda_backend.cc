#include "backends/cuda/cuda_backend.h"

#include <cuda_runtime.h>

namespace kiln::cuda {

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
  return count;
}

std::unique_ptr<Backend> make_cuda_backend(int device_index) {
  if (device_index >= cuda_device_count())
    fail_with(ErrorCode::kUnavailable, "cuda:{} asked for, but {} CUDA device(s) are present", device_index,
              cuda_device_count());
  fail_with(ErrorCode::kUnimplemented, "the CUDA backend is not built yet");
}

}  // namespace kiln::cuda
