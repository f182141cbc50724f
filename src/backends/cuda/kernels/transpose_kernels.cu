// Device code for transpose.h.
#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/transpose.h"

namespace kiln::cuda::kernels::detail {
namespace {

using device::grid_for;

constexpr int kTile = 32;
constexpr int kBlockRows = 8;

// One 32x32 tile per block through shared memory (+1 column against bank conflicts).
// grid = (col tiles, row tiles, batch); batches beyond grid.z loop.
template <typename E>
__global__ void batched_transpose_kernel(int64_t batch, int64_t rows, int64_t cols, const E* __restrict__ x,
                                         E* __restrict__ y) {
  __shared__ E tile[kTile][kTile + 1];
  const int64_t col0 = int64_t(blockIdx.x) * kTile, row0 = int64_t(blockIdx.y) * kTile;
  for (int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    const E* in = x + b * rows * cols;
    E* out = y + b * rows * cols;
    for (int r = threadIdx.y; r < kTile; r += kBlockRows) {
      const int64_t row = row0 + r, col = col0 + threadIdx.x;
      if (row < rows && col < cols) tile[r][threadIdx.x] = in[row * cols + col];
    }
    __syncthreads();
    for (int r = threadIdx.y; r < kTile; r += kBlockRows) {
      const int64_t out_row = col0 + r, out_col = row0 + threadIdx.x;  // out is [cols][rows]
      if (out_row < cols && out_col < rows) out[out_row * rows + out_col] = tile[threadIdx.x][r];
    }
    __syncthreads();
  }
}

template <typename E>
__global__ void permute_kernel(PermutedIndex index, int64_t count, const E* __restrict__ x, E* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    int64_t rest = i, src = 0;
    for (int d = index.rank - 1; d >= 0; --d) {
      src += (rest % index.out_dims[d]) * index.src_strides[d];
      rest /= index.out_dims[d];
    }
    y[i] = x[src];
  }
}

template <typename E>
cudaError_t batched(int64_t batch, int64_t rows, int64_t cols, const void* x, void* y, cudaStream_t stream) {
  const int64_t row_tiles = (rows + kTile - 1) / kTile, col_tiles = (cols + kTile - 1) / kTile;
  if (row_tiles > 65535) return cudaErrorInvalidValue;
  dim3 grid(static_cast<unsigned>(col_tiles), static_cast<unsigned>(row_tiles),
            static_cast<unsigned>(batch < 65535 ? batch : 65535));
  batched_transpose_kernel<E><<<grid, dim3(kTile, kBlockRows), 0, stream>>>(batch, rows, cols,
                                                                           static_cast<const E*>(x), static_cast<E*>(y));
  return cudaGetLastError();
}

template <typename E>
cudaError_t permute(const PermutedIndex& index, int64_t count, const void* x, void* y, cudaStream_t stream) {
  permute_kernel<E><<<grid_for(count, 256), 256, 0, stream>>>(index, count, static_cast<const E*>(x),
                                                              static_cast<E*>(y));
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_batched_transpose(size_t elem_size, int64_t batch, int64_t rows, int64_t cols, const void* x,
                                     void* y, cudaStream_t stream) {
  switch (elem_size) {
    case 1: return batched<uint8_t>(batch, rows, cols, x, y, stream);
    case 2: return batched<uint16_t>(batch, rows, cols, x, y, stream);
    case 4: return batched<uint32_t>(batch, rows, cols, x, y, stream);
    case 8: return batched<uint64_t>(batch, rows, cols, x, y, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_permute(size_t elem_size, const PermutedIndex& index, int64_t count, const void* x, void* y,
                           cudaStream_t stream) {
  switch (elem_size) {
    case 1: return permute<uint8_t>(index, count, x, y, stream);
    case 2: return permute<uint16_t>(index, count, x, y, stream);
    case 4: return permute<uint32_t>(index, count, x, y, stream);
    case 8: return permute<uint64_t>(index, count, x, y, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda::kernels::detail
