// Device code for cast.h.
#include "backends/cuda/kernels/cast.h"
#include "backends/cuda/kernels/device_math.cuh"

namespace kiln::cuda::kernels::detail {
namespace {

using device::from_f32;
using device::grid_for;
using device::to_f32;

template <typename From> __device__ __forceinline__ float load_f32(From v) { return to_f32(v); }
template <> __device__ __forceinline__ float load_f32<uint8_t>(uint8_t v) { return float(v); }

template <typename From, typename To>
__global__ void cast_kernel(int64_t count, const From* __restrict__ x, To* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    y[i] = from_f32<To>(load_f32(x[i]));
}

template <typename From>
cudaError_t cast_from(DType to, int64_t count, const void* x, void* y, cudaStream_t stream) {
  KILN_DISPATCH_FLOAT(to, To, {
    cast_kernel<From, To><<<grid_for(count, 256), 256, 0, stream>>>(count, static_cast<const From*>(x),
                                                                    static_cast<To*>(y));
  });
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_cast(DType from, DType to, int64_t count, const void* x, void* y, cudaStream_t stream) {
  switch (from) {
    case DType::kF32: return cast_from<float>(to, count, x, y, stream);
    case DType::kF16: return cast_from<__half>(to, count, x, y, stream);
    case DType::kBF16: return cast_from<__nv_bfloat16>(to, count, x, y, stream);
    case DType::kU8: return cast_from<uint8_t>(to, count, x, y, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace kiln::cuda::kernels::detail
