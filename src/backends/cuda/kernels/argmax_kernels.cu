#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace kiln::cuda::kernels {

namespace {

constexpr int kThreads = 256;

__device__ inline float to_float(float v) { return v; }
__device__ inline float to_float(__half v) { return __half2float(v); }
__device__ inline float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

// One block per row: each thread scans a strided slice, then a shared-memory reduction
// keeps the largest value and, on ties, the smaller index (NaN never wins).
template <typename T>
__global__ void argmax_rows(int64_t cols, const T* x, int64_t* y) {
  __shared__ float best_value[kThreads];
  __shared__ int64_t best_index[kThreads];
  const T* row = x + blockIdx.x * cols;
  float v = -INFINITY;
  int64_t idx = cols;  // "none yet": loses every comparison
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float e = to_float(row[c]);
    if (e > v || (idx == cols && e == e)) {
      v = e;
      idx = c;
    }
  }
  best_value[threadIdx.x] = v;
  best_index[threadIdx.x] = idx;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      const float ov = best_value[threadIdx.x + stride];
      const int64_t oi = best_index[threadIdx.x + stride];
      if (oi < cols && (best_index[threadIdx.x] == cols || ov > best_value[threadIdx.x] ||
                        (ov == best_value[threadIdx.x] && oi < best_index[threadIdx.x]))) {
        best_value[threadIdx.x] = ov;
        best_index[threadIdx.x] = oi;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) y[blockIdx.x] = best_index[0] == cols ? 0 : best_index[0];
}

__global__ void narrow_int64(int64_t n, const int64_t* x, int32_t* y) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const int64_t v = x[i];
  y[i] = v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : static_cast<int32_t>(v);
}

template <typename T>
cudaError_t launch(int64_t rows, int64_t cols, const void* x, int64_t* y, cudaStream_t stream) {
  argmax_rows<T><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(cols, static_cast<const T*>(x), y);
  return cudaGetLastError();
}

}  // namespace

cudaError_t argmax_rows_f32(int64_t rows, int64_t cols, const float* x, int64_t* y, cudaStream_t stream) {
  return launch<float>(rows, cols, x, y, stream);
}
cudaError_t argmax_rows_f16(int64_t rows, int64_t cols, const void* x, int64_t* y, cudaStream_t stream) {
  return launch<__half>(rows, cols, x, y, stream);
}
cudaError_t argmax_rows_bf16(int64_t rows, int64_t cols, const void* x, int64_t* y, cudaStream_t stream) {
  return launch<__nv_bfloat16>(rows, cols, x, y, stream);
}
cudaError_t int64_to_int32_impl(int64_t n, const int64_t* x, int32_t* y, cudaStream_t stream) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  narrow_int64<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(n, x, y);
  return cudaGetLastError();
}

}  // namespace kiln::cuda::kernels
