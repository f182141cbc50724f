#include "backends/cuda/kernels/gpu_delay.h"

#include <cstdint>

namespace kiln::cuda::kernels {

namespace {

__device__ __forceinline__ uint64_t global_nanoseconds() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void delay_kernel(uint64_t nanoseconds) {
  const uint64_t start = global_nanoseconds();
  while (global_nanoseconds() - start < nanoseconds) {
  }
}

}  // namespace

cudaError_t gpu_delay(double microseconds, cudaStream_t stream) {
  delay_kernel<<<1, 1, 0, stream>>>(static_cast<uint64_t>(microseconds * 1000.0));
  return cudaGetLastError();
}

}  // namespace kiln::cuda::kernels
