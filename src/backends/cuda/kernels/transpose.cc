#include "backends/cuda/kernels/transpose.h"

#include "core/error.h"

namespace kiln::cuda::kernels {
namespace {

void check_elem_size(size_t elem_size, const char* what) {
  KILN_CHECK(elem_size == 1 || elem_size == 2 || elem_size == 4 || elem_size == 8,
             "{}: element size {} is not 1, 2, 4 or 8 bytes", what, elem_size);
}

void check_image_dims(int64_t n, int64_t c, int64_t h, int64_t w, const char* what) {
  KILN_CHECK(n >= 0 && c >= 0 && h >= 0 && w >= 0, "{}: negative dims [{},{},{},{}]", what, n, c, h, w);
}

}  // namespace

cudaError_t transpose(size_t elem_size, const Dims& in_dims, const std::vector<int64_t>& perm, const void* x,
                      void* y, cudaStream_t stream) {
  check_elem_size(elem_size, "transpose");
  const int rank = static_cast<int>(in_dims.size());
  KILN_CHECK(rank <= 6, "transpose: rank {} of {} exceeds 6", rank, dims_to_string(in_dims));
  KILN_CHECK(static_cast<int>(perm.size()) == rank, "transpose: perm has {} entries for a rank-{} tensor {}",
             perm.size(), rank, dims_to_string(in_dims));
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    KILN_CHECK(p >= 0 && p < rank && !seen[p], "transpose: perm is not a permutation of 0..{}", rank - 1);
    seen[p] = true;
  }
  const int64_t count = num_elements(in_dims);
  if (count == 0) return cudaSuccess;
  KILN_CHECK(x && y, "transpose: null device pointer");
  if (rank == 4 && perm == std::vector<int64_t>{0, 2, 3, 1})
    return detail::launch_batched_transpose(elem_size, in_dims[0], in_dims[1], in_dims[2] * in_dims[3], x, y, stream);
  if (rank == 4 && perm == std::vector<int64_t>{0, 3, 1, 2})
    return detail::launch_batched_transpose(elem_size, in_dims[0], in_dims[1] * in_dims[2], in_dims[3], x, y, stream);

  const std::vector<int64_t> in_strides = strides_of(in_dims);
  detail::PermutedIndex index;
  index.rank = rank;
  for (int i = 0; i < rank; ++i) {
    index.out_dims[i] = in_dims[perm[i]];
    index.src_strides[i] = in_strides[perm[i]];
  }
  return detail::launch_permute(elem_size, index, count, x, y, stream);
}

cudaError_t nchw_to_nhwc(size_t elem_size, int64_t n, int64_t c, int64_t h, int64_t w, const void* x, void* y,
                         cudaStream_t stream) {
  check_elem_size(elem_size, "nchw_to_nhwc");
  check_image_dims(n, c, h, w, "nchw_to_nhwc");
  if (n * c * h * w == 0) return cudaSuccess;
  KILN_CHECK(x && y, "nchw_to_nhwc: null device pointer");
  return detail::launch_batched_transpose(elem_size, n, c, h * w, x, y, stream);
}

cudaError_t nhwc_to_nchw(size_t elem_size, int64_t n, int64_t c, int64_t h, int64_t w, const void* x, void* y,
                         cudaStream_t stream) {
  check_elem_size(elem_size, "nhwc_to_nchw");
  check_image_dims(n, c, h, w, "nhwc_to_nchw");
  if (n * c * h * w == 0) return cudaSuccess;
  KILN_CHECK(x && y, "nhwc_to_nchw: null device pointer");
  return detail::launch_batched_transpose(elem_size, n, h * w, c, x, y, stream);
}

}  // namespace kiln::cuda::kernels
