// Device code for burn_kernels.h.
#include <cuda_fp16.h>

#include "backends/cuda/burn/burn_kernels.h"

namespace kiln::cuda::burn {
namespace {

__device__ __forceinline__ uint32_t hash(uint32_t x) {
  x ^= x >> 16; x *= 0x7feb352dU;
  x ^= x >> 15; x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

__global__ void fill_kernel(void* data, size_t count, bool is_half, uint32_t seed) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const float v = float(hash(uint32_t(i) ^ hash(seed + uint32_t(i >> 32)))) * (2.0f / 4294967296.0f) - 1.0f;
    if (is_half) static_cast<__half*>(data)[i] = __float2half_rn(v);
    else static_cast<float*>(data)[i] = v;
  }
}

__global__ void mismatch_kernel(const uint4* a, const uint4* b, size_t vectors, const uint32_t* a_tail,
                                const uint32_t* b_tail, size_t tail, unsigned long long* mismatches) {
  unsigned long long local = 0;
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  const size_t first = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (size_t i = first; i < vectors; i += stride) {
    const uint4 x = a[i], y = b[i];
    local += (x.x != y.x) + (x.y != y.y) + (x.z != y.z) + (x.w != y.w);
  }
  for (size_t i = first; i < tail; i += stride) local += a_tail[i] != b_tail[i];
  for (int offset = 16; offset > 0; offset /= 2) local += __shfl_xor_sync(0xffffffffu, local, offset);
  if ((threadIdx.x & 31) == 0 && local) atomicAdd(mismatches, local);
}

}  // namespace

cudaError_t fill_uniform(void* data, size_t count, bool is_half, uint32_t seed, cudaStream_t stream) {
  fill_kernel<<<1024, 256, 0, stream>>>(data, count, is_half, seed);
  return cudaGetLastError();
}

cudaError_t count_mismatches(const uint32_t* a, const uint32_t* b, size_t words, unsigned long long* mismatches,
                             cudaStream_t stream) {
  // Buffers come from cudaMalloc (256-byte aligned), so the first words/4 go as 16-byte vectors.
  const size_t vectors = words / 4, tail = words % 4;
  mismatch_kernel<<<1024, 256, 0, stream>>>(reinterpret_cast<const uint4*>(a), reinterpret_cast<const uint4*>(b),
                                            vectors, a + vectors * 4, b + vectors * 4, tail, mismatches);
  return cudaGetLastError();
}

}  // namespace kiln::cuda::burn
