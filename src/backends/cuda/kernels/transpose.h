// Layout transposes. They move bytes only, so they take an element size (1, 2, 4 or 8
// bytes) instead of a dtype and serve every tensor type, int64 shapes included.
//
// Contract: x and y are distinct, densely packed device arrays. `transpose` follows ONNX
// Transpose: y's dims are in_dims[perm[i]], rank at most 6. The permutations NCHW->NHWC
// (0,2,3,1) and NHWC->NCHW (0,3,1,2) go through a shared-memory tiled kernel so both the
// reads and the writes are coalesced; others use a per-element index kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/cuda/kernels/kernel_types.h"
#include "core/shape.h"

namespace kiln::cuda::kernels {

cudaError_t transpose(size_t elem_size, const Dims& in_dims, const std::vector<int64_t>& perm, const void* x,
                      void* y, cudaStream_t stream);

// [N,C,H,W] -> [N,H,W,C] and back.
cudaError_t nchw_to_nhwc(size_t elem_size, int64_t n, int64_t c, int64_t h, int64_t w, const void* x, void* y,
                         cudaStream_t stream);
cudaError_t nhwc_to_nchw(size_t elem_size, int64_t n, int64_t c, int64_t h, int64_t w, const void* x, void* y,
                         cudaStream_t stream);

namespace detail {
struct PermutedIndex {
  int rank = 0;
  int64_t out_dims[6] = {};
  int64_t src_strides[6] = {};  // input stride of the input dim that output dim i reads
};
// Batched [batch][rows][cols] -> [batch][cols][rows].
cudaError_t launch_batched_transpose(size_t elem_size, int64_t batch, int64_t rows, int64_t cols, const void* x,
                                     void* y, cudaStream_t stream);
cudaError_t launch_permute(size_t elem_size, const PermutedIndex& index, int64_t count, const void* x, void* y,
                           cudaStream_t stream);
}  // namespace detail

}  // namespace kiln::cuda::kernels
