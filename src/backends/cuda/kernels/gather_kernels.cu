// Device code for gather.h.
#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/gather.h"

namespace kiln::cuda::kernels::detail {
namespace {

using device::grid_for;

template <typename E>
__global__ void gather_kernel(int64_t outer, int64_t axis_size, int64_t inner, const int64_t* __restrict__ indices,
                              int64_t num_indices, const E* __restrict__ data, E* __restrict__ y) {
  const int64_t count = outer * num_indices * inner;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const int64_t in = i % inner;
    const int64_t j = (i / inner) % num_indices;
    const int64_t o = i / (inner * num_indices);
    int64_t idx = indices[j];
    if (idx < 0) idx += axis_size;
    y[i] = (idx >= 0 && idx < axis_size) ? data[(o * axis_size + idx) * inner + in] : E(0);
  }
}

template <typename E>
cudaError_t run(int64_t outer, int64_t axis_size, int64_t inner, const int64_t* indices, int64_t num_indices,
                const void* data, void* y, cudaStream_t stream) {
  gather_kernel<E><<<grid_for(outer * num_indices * inner, 256), 256, 0, stream>>>(
      outer, axis_size, inner, indices, num_indices, static_cast<const E*>(data), static_cast<E*>(y));
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_gather(size_t elem_size, int64_t outer, int64_t axis_size, int64_t inner, const int64_t* indices,
                          int64_t num_indices, const void* data, void* y, cudaStream_t stream) {
  switch (elem_size) {
    case 1: return run<uint8_t>(outer, axis_size, inner, indices, num_indices, data, y, stream);
    case 2: return run<uint16_t>(outer, axis_size, inner, indices, num_indices, data, y, stream);
    case 4: return run<uint32_t>(outer, axis_size, inner, indices, num_indices, data, y, stream);
    case 8: return run<uint64_t>(outer, axis_size, inner, indices, num_indices, data, y, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda::kernels::detail
