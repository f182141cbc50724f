// Device code for strided_copy.h.
#include <cstring>

#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/strided_copy.h"

namespace kiln::cuda::kernels::detail {
namespace {

using device::grid_for;

template <typename E>
__global__ void strided_copy_kernel(CopyIndex index, int64_t count, const E* __restrict__ src, E* __restrict__ dst) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    int64_t rest = i, s = 0, d = 0;
    for (int k = index.rank - 1; k >= 0; --k) {
      const int64_t coord = rest % index.extents[k];
      rest /= index.extents[k];
      s += coord * index.src_strides[k];
      d += coord * index.dst_strides[k];
    }
    dst[d] = src[s];
  }
}

// One thread per output element: either the matching input element or the pad value.
template <typename E>
__global__ void pad_kernel(PadIndex index, int64_t count, E value, const E* __restrict__ x, E* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    int64_t rest = i, src = 0, src_stride = 1;
    bool inside = true;
    for (int k = index.rank - 1; k >= 0; --k) {
      const int64_t coord = rest % index.out_dims[k] - index.pads_begin[k];
      rest /= index.out_dims[k];
      if (coord < 0 || coord >= index.in_dims[k]) inside = false;
      src += coord * src_stride;
      src_stride *= index.in_dims[k];
    }
    y[i] = inside ? x[src] : value;
  }
}

template <typename E>
cudaError_t copy(const CopyIndex& index, int64_t count, const void* src, void* dst, cudaStream_t stream) {
  strided_copy_kernel<E><<<grid_for(count, 256), 256, 0, stream>>>(index, count, static_cast<const E*>(src),
                                                                    static_cast<E*>(dst));
  return cudaGetLastError();
}

template <typename E>
cudaError_t pad(const PadIndex& index, int64_t count, uint64_t bits, const void* x, void* y, cudaStream_t stream) {
  E value;
  std::memcpy(&value, &bits, sizeof(E));  // little-endian: the low bytes hold the value
  pad_kernel<E><<<grid_for(count, 256), 256, 0, stream>>>(index, count, value, static_cast<const E*>(x),
                                                          static_cast<E*>(y));
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_strided_copy(size_t elem_size, const CopyIndex& index, int64_t count, const void* src, void* dst,
                                cudaStream_t stream) {
  switch (elem_size) {
    case 1: return copy<uint8_t>(index, count, src, dst, stream);
    case 2: return copy<uint16_t>(index, count, src, dst, stream);
    case 4: return copy<uint32_t>(index, count, src, dst, stream);
    case 8: return copy<uint64_t>(index, count, src, dst, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_pad(size_t elem_size, const PadIndex& index, int64_t count, uint64_t value_bits, const void* x,
                       void* y, cudaStream_t stream) {
  switch (elem_size) {
    case 1: return pad<uint8_t>(index, count, value_bits, x, y, stream);
    case 2: return pad<uint16_t>(index, count, value_bits, x, y, stream);
    case 4: return pad<uint32_t>(index, count, value_bits, x, y, stream);
    case 8: return pad<uint64_t>(index, count, value_bits, x, y, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda::kernels::detail
