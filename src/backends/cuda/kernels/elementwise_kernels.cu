// Device code for elementwise.h.
#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/elementwise.h"

namespace kiln::cuda::kernels::detail {
namespace {

using device::from_f32;
using device::grid_for;
using device::to_f32;

__device__ __forceinline__ float apply(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::kAdd: return a + b;
    case BinaryOp::kSub: return a - b;
    case BinaryOp::kMul: return a * b;
    case BinaryOp::kDiv: return a / b;
  }
  return 0.0f;
}

// 16-byte vectors: 4 floats or 8 halves per load.
template <typename T> struct alignas(16) Vec16 {
  static constexpr int kCount = 16 / sizeof(T);
  T v[kCount];
};

template <typename T>
__global__ void binary_same_shape_kernel(BinaryOp op, int64_t count, const T* __restrict__ a,
                                         const T* __restrict__ b, T* __restrict__ y, bool vectorized) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t tail_start = 0;
  if (vectorized) {
    constexpr int kN = Vec16<T>::kCount;
    const int64_t vectors = count / kN;
    for (int64_t i = first; i < vectors; i += stride) {
      Vec16<T> va = reinterpret_cast<const Vec16<T>*>(a)[i];
      Vec16<T> vb = reinterpret_cast<const Vec16<T>*>(b)[i];
      Vec16<T> vy;
#pragma unroll
      for (int k = 0; k < kN; ++k) vy.v[k] = from_f32<T>(apply(op, to_f32(va.v[k]), to_f32(vb.v[k])));
      reinterpret_cast<Vec16<T>*>(y)[i] = vy;
    }
    tail_start = vectors * kN;
  }
  for (int64_t i = tail_start + first; i < count; i += stride)
    y[i] = from_f32<T>(apply(op, to_f32(a[i]), to_f32(b[i])));
}

template <typename T>
__global__ void binary_broadcast_kernel(BinaryOp op, BroadcastIndex index, int64_t count,
                                        const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    int64_t rest = i, a_off = 0, b_off = 0;
    for (int d = index.rank - 1; d >= 0; --d) {
      const int64_t coord = rest % index.out_dims[d];
      rest /= index.out_dims[d];
      a_off += coord * index.a_strides[d];
      b_off += coord * index.b_strides[d];
    }
    y[i] = from_f32<T>(apply(op, to_f32(a[a_off]), to_f32(b[b_off])));
  }
}

template <typename T>
__global__ void activation_kernel(Activation act, int64_t count, const T* __restrict__ x, T* __restrict__ y,
                                  bool vectorized) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t tail_start = 0;
  if (vectorized) {
    constexpr int kN = Vec16<T>::kCount;
    const int64_t vectors = count / kN;
    for (int64_t i = first; i < vectors; i += stride) {
      Vec16<T> v = reinterpret_cast<const Vec16<T>*>(x)[i];
#pragma unroll
      for (int k = 0; k < kN; ++k)
        v.v[k] = from_f32<T>(device::activate(to_f32(v.v[k]), act.kind, act.alpha, act.beta));
      reinterpret_cast<Vec16<T>*>(y)[i] = v;
    }
    tail_start = vectors * kN;
  }
  for (int64_t i = tail_start + first; i < count; i += stride)
    y[i] = from_f32<T>(device::activate(to_f32(x[i]), act.kind, act.alpha, act.beta));
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

}  // namespace

cudaError_t launch_binary_same_shape(BinaryOp op, DType dtype, int64_t count, const void* a, const void* b,
                                     void* y, cudaStream_t stream) {
  const bool vec = aligned16(a) && aligned16(b) && aligned16(y);
  KILN_DISPATCH_FLOAT(dtype, T, {
    const int64_t work = vec ? count / Vec16<T>::kCount + Vec16<T>::kCount : count;
    binary_same_shape_kernel<T><<<grid_for(work, 256), 256, 0, stream>>>(
        op, count, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y), vec);
  });
  return cudaGetLastError();
}

cudaError_t launch_binary_broadcast(BinaryOp op, DType dtype, const BroadcastIndex& index, int64_t count,
                                    const void* a, const void* b, void* y, cudaStream_t stream) {
  KILN_DISPATCH_FLOAT(dtype, T, {
    binary_broadcast_kernel<T><<<grid_for(count, 256), 256, 0, stream>>>(
        op, index, count, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y));
  });
  return cudaGetLastError();
}

cudaError_t launch_activation(const Activation& act, DType dtype, int64_t count, const void* x, void* y,
                              cudaStream_t stream) {
  const bool vec = aligned16(x) && aligned16(y);
  KILN_DISPATCH_FLOAT(dtype, T, {
    const int64_t work = vec ? count / Vec16<T>::kCount + Vec16<T>::kCount : count;
    activation_kernel<T><<<grid_for(work, 256), 256, 0, stream>>>(act, count, static_cast<const T*>(x),
                                                                  static_cast<T*>(y), vec);
  });
  return cudaGetLastError();
}

}  // namespace kiln::cuda::kernels::detail
