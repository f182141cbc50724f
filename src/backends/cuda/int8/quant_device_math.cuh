// Device-side rounding of the INT8 and FP8 (E4M3) paths, shared by the epilogue and quantize
// kernels (int8_kernels.cu) and the igemm kernel (igemm_conv.cu): their outputs must round
// identically for the GPU families to equal one another and the CPU reference (quant/fp8.h,
// quant/int8_reference.h are the host twins).
#pragma once

#include <cstdint>

#include <cuda_fp16.h>
#include <cuda_fp8.h>

namespace kiln::cuda::int8 {

// saturate(round_half_even(v)) to [-128, 127].
__device__ __forceinline__ int8_t saturate_round(float v) {
  const int q = __float2int_rn(v);
  return static_cast<int8_t>(q < -128 ? -128 : (q > 127 ? 127 : q));
}

// E4M3 code of v, round to nearest even, saturated to +-448.
__device__ __forceinline__ uint8_t to_e4m3(float v) {
  return static_cast<uint8_t>(__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3));
}
__device__ __forceinline__ float from_e4m3(uint8_t c) {
  return __half2float(__half(__nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(c), __NV_E4M3)));
}

}  // namespace kiln::cuda::int8
