// Device code for softmax.h.
#include <cfloat>

#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/softmax.h"

namespace kiln::cuda::kernels::detail {
namespace {

using device::to_f32;

constexpr int kThreads = 256;

// Block-wide reduction (max or sum) through warp shuffles and one shared array.
template <bool kMax>
__device__ float block_reduce(float v, float* shared) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const float o = __shfl_xor_sync(0xffffffffu, v, offset);
    v = kMax ? fmaxf(v, o) : v + o;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // `shared` may still be read by a previous reduction
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < kThreads / 32 ? shared[lane] : (kMax ? -FLT_MAX : 0.0f);
  for (int offset = 16; offset > 0; offset /= 2) {
    const float o = __shfl_xor_sync(0xffffffffu, v, offset);
    v = kMax ? fmaxf(v, o) : v + o;
  }
  return v;
}

template <typename T>
__global__ void softmax_kernel(int64_t rows, int64_t cols, const T* __restrict__ x, float* __restrict__ y,
                               bool log_softmax) {
  __shared__ float shared[kThreads / 32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* in = x + row * cols;
    float* out = y + row * cols;
    float m = -FLT_MAX;
    for (int64_t j = threadIdx.x; j < cols; j += kThreads) m = fmaxf(m, to_f32(in[j]));
    m = block_reduce<true>(m, shared);
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < cols; j += kThreads) sum += expf(to_f32(in[j]) - m);
    sum = block_reduce<false>(sum, shared);
    if (log_softmax) {
      const float log_sum = logf(sum);
      for (int64_t j = threadIdx.x; j < cols; j += kThreads) out[j] = to_f32(in[j]) - m - log_sum;
    } else {
      const float inv = 1.0f / sum;
      for (int64_t j = threadIdx.x; j < cols; j += kThreads) out[j] = expf(to_f32(in[j]) - m) * inv;
    }
  }
}

}  // namespace

cudaError_t launch_softmax(DType x_dtype, int64_t rows, int64_t cols, const void* x, float* y, bool log_softmax,
                           cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(rows < 65535 * 16 ? rows : 65535 * 16);
  KILN_DISPATCH_FLOAT(x_dtype, T, {
    softmax_kernel<T><<<blocks, kThreads, 0, stream>>>(rows, cols, static_cast<const T*>(x), y, log_softmax);
  });
  return cudaGetLastError();
}

}  // namespace kiln::cuda::kernels::detail
