#include "backends/cuda/int8/int8_kernels.h"

#include <cuda_fp16.h>

#include "backends/cuda/int8/quant_device_math.cuh"

namespace kiln::cuda::int8 {

namespace {

template <typename T>
__device__ __forceinline__ float load_float(const T* p, int64_t i);
template <>
__device__ __forceinline__ float load_float<float>(const float* p, int64_t i) { return p[i]; }
template <>
__device__ __forceinline__ float load_float<__half>(const __half* p, int64_t i) { return __half2float(p[i]); }

// Q(x * inv_scale) over [pixels, c_pad], padded channels 0; Q is saturate_round (INT8) or
// to_e4m3 (FP8).
struct ToInt8 {
  __device__ int8_t operator()(float v) const { return saturate_round(v); }
};
struct ToE4m3 {
  __device__ uint8_t operator()(float v) const { return to_e4m3(v); }
};

template <typename T, typename Q, typename Out>
__global__ void quantize_kernel(const T* x, int64_t pixels, int c, int c_pad, float inv_scale, Out* y) {
  const int64_t total = pixels * c_pad;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t px = i / c_pad;
    const int ch = static_cast<int>(i - px * c_pad);
    y[i] = ch < c ? Q()(__fmul_rn(load_float(x, px * c + ch), inv_scale)) : Out(0);
  }
}

// The same quantization, 8 values per thread with 16-byte f16 loads and 8-byte stores, for
// the common case of unpadded channels (c == c_pad, a multiple of 8): the one-byte-per-thread
// kernel above with its 64-bit divisions took 0.74 ms for a [256,56,56,256] tensor on an H200.
__global__ void quantize_f16_vec8_kernel(const uint4* __restrict__ x, int vectors, float inv_scale,
                                         uint2* __restrict__ y) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < vectors; i += gridDim.x * blockDim.x) {
    const uint4 in = x[i];
    const __half* h = reinterpret_cast<const __half*>(&in);
    uint2 out;
    int8_t* q = reinterpret_cast<int8_t*>(&out);
#pragma unroll
    for (int k = 0; k < 8; ++k) q[k] = saturate_round(__fmul_rn(__half2float(h[k]), inv_scale));
    y[i] = out;
  }
}

__global__ void epilogue_kernel(EpilogueParams p) {
  const int channels = p.y_int8 || p.y_fp8 ? p.k_pad : p.k;
  const int64_t total = p.pixels * channels;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t px = i / channels;
    const int ch = static_cast<int>(i - px * channels);
    float v = __fmaf_rn(p.acc[px * p.k_pad + ch], p.scale[ch], p.bias[ch]);
    if (p.z_kind == ResidualKind::kInt8)
      v = __fmaf_rn(static_cast<float>(static_cast<const int8_t*>(p.z)[px * p.k_pad + ch]), p.z_scale, v);
    else if (p.z_kind == ResidualKind::kFp8)
      v = __fmaf_rn(from_e4m3(static_cast<const uint8_t*>(p.z)[px * p.k_pad + ch]), p.z_scale, v);
    else if (p.z_kind == ResidualKind::kF16)
      v = __fadd_rn(v, __half2float(static_cast<const __half*>(p.z)[px * p.k + ch]));
    if (p.relu) v = fmaxf(v, 0.0f);
    if (p.y_fp8) static_cast<uint8_t*>(p.y)[i] = to_e4m3(__fmul_rn(v, p.y_inv_scale));
    else if (p.y_int8) static_cast<int8_t*>(p.y)[i] = saturate_round(__fmul_rn(v, p.y_inv_scale));
    else static_cast<__half*>(p.y)[i] = __float2half_rn(v);
  }
}

// Operand element -> the value it multiplies with: int8 as int, E4M3 decoded to float.
__device__ __forceinline__ int operand(int8_t v) { return v; }
__device__ __forceinline__ float operand(uint8_t v) { return from_e4m3(v); }
// Multiply-accumulate: exact for int; one rounded fma for float, which the CPU emulation
// (std::fma in the same channel order) reproduces.
__device__ __forceinline__ void mac(int& sum, int a, int b) { sum += a * b; }
__device__ __forceinline__ void mac(float& sum, float a, float b) { sum = __fmaf_rn(a, b, sum); }

template <typename T, typename Acc>
__global__ void direct_conv_kernel(DirectConvParams p, const T* x, const T* w, float* acc) {
  const int64_t total = int64_t(p.n) * p.ho * p.wo * p.k;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int k = static_cast<int>(i % p.k);
    int64_t rest = i / p.k;
    const int ox = static_cast<int>(rest % p.wo);
    rest /= p.wo;
    const int oy = static_cast<int>(rest % p.ho);
    const int n = static_cast<int>(rest / p.ho);
    Acc sum = 0;
    for (int ky = 0; ky < p.r; ++ky) {
      const int iy = oy * p.stride_h - p.pad_h + ky * p.dil_h;
      if (iy < 0 || iy >= p.h) continue;
      for (int kx = 0; kx < p.s; ++kx) {
        const int ix = ox * p.stride_w - p.pad_w + kx * p.dil_w;
        if (ix < 0 || ix >= p.w) continue;
        const T* xp = x + ((int64_t(n) * p.h + iy) * p.w + ix) * p.c;
        const T* wp = w + ((int64_t(k) * p.r + ky) * p.s + kx) * p.c;
        for (int c = 0; c < p.c; ++c) mac(sum, operand(xp[c]), operand(wp[c]));
      }
    }
    acc[i] = static_cast<float>(sum);
  }
}

__global__ void fold_kernel(const float* scale, const float* bias, int k_pad, float y_inv, float z_scale,
                            float* out_scale, float* out_bias, float* out_z_scale) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= k_pad) return;
  out_scale[i] = __fmul_rn(scale[i], y_inv);
  out_bias[i] = __fmul_rn(bias[i], y_inv);
  out_z_scale[i] = __fmul_rn(z_scale, y_inv);
}

__global__ void fp8_gemm_constants_kernel(const float* bias, int k_pad, float y_inv, __half* bias_f16,
                                          float* d_scale) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < k_pad) bias_f16[i] = __float2half_rn(bias[i]);
  if (i == 0) *d_scale = y_inv;
}

int blocks_for(int64_t total) {
  const int64_t b = (total + 255) / 256;
  return static_cast<int>(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

}  // namespace

cudaError_t quantize_nhwc(const void* x, bool x_is_f16, int64_t pixels, int c, int c_pad, float inv_scale,
                          int8_t* y, cudaStream_t stream) {
  const int64_t total = pixels * c_pad;
  const bool aligned = ((reinterpret_cast<uintptr_t>(x) & 15) | (reinterpret_cast<uintptr_t>(y) & 7)) == 0;
  if (x_is_f16 && c == c_pad && c % 8 == 0 && aligned && total / 8 < (int64_t(1) << 31)) {
    const int vectors = static_cast<int>(total / 8);
    quantize_f16_vec8_kernel<<<blocks_for(vectors), 256, 0, stream>>>(static_cast<const uint4*>(x), vectors,
                                                                       inv_scale, reinterpret_cast<uint2*>(y));
    return cudaGetLastError();
  }
  const int blocks = blocks_for(total);
  if (x_is_f16)
    quantize_kernel<__half, ToInt8><<<blocks, 256, 0, stream>>>(static_cast<const __half*>(x), pixels, c, c_pad,
                                                                 inv_scale, y);
  else
    quantize_kernel<float, ToInt8><<<blocks, 256, 0, stream>>>(static_cast<const float*>(x), pixels, c, c_pad,
                                                                inv_scale, y);
  return cudaGetLastError();
}

cudaError_t quantize_nhwc_fp8(const void* x, bool x_is_f16, int64_t pixels, int c, int c_pad, float inv_scale,
                              uint8_t* y, cudaStream_t stream) {
  const int blocks = blocks_for(pixels * c_pad);
  if (x_is_f16)
    quantize_kernel<__half, ToE4m3><<<blocks, 256, 0, stream>>>(static_cast<const __half*>(x), pixels, c, c_pad,
                                                                 inv_scale, y);
  else
    quantize_kernel<float, ToE4m3><<<blocks, 256, 0, stream>>>(static_cast<const float*>(x), pixels, c, c_pad,
                                                                inv_scale, y);
  return cudaGetLastError();
}

cudaError_t direct_conv(const DirectConvParams& p, const int8_t* x, const int8_t* w, float* acc, cudaStream_t stream) {
  direct_conv_kernel<int8_t, int><<<blocks_for(int64_t(p.n) * p.ho * p.wo * p.k), 256, 0, stream>>>(p, x, w, acc);
  return cudaGetLastError();
}

cudaError_t direct_conv_fp8(const DirectConvParams& p, const uint8_t* x, const uint8_t* w, float* acc,
                            cudaStream_t stream) {
  direct_conv_kernel<uint8_t, float><<<blocks_for(int64_t(p.n) * p.ho * p.wo * p.k), 256, 0, stream>>>(p, x, w, acc);
  return cudaGetLastError();
}

cudaError_t fp8_gemm_constants(const float* bias, int k_pad, float y_inv_scale, void* bias_f16, float* d_scale,
                               cudaStream_t stream) {
  fp8_gemm_constants_kernel<<<(k_pad + 255) / 256, 256, 0, stream>>>(bias, k_pad, y_inv_scale,
                                                                     static_cast<__half*>(bias_f16), d_scale);
  return cudaGetLastError();
}

cudaError_t conv_epilogue(const EpilogueParams& p, cudaStream_t stream) {
  const int64_t total = p.pixels * (p.y_int8 || p.y_fp8 ? p.k_pad : p.k);
  epilogue_kernel<<<blocks_for(total), 256, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t fold_epilogue_constants(const float* scale, const float* bias, int k_pad, float y_inv_scale,
                                    float z_scale, float* out_scale, float* out_bias, float* out_z_scale,
                                    cudaStream_t stream) {
  fold_kernel<<<(k_pad + 255) / 256, 256, 0, stream>>>(scale, bias, k_pad, y_inv_scale, z_scale, out_scale, out_bias,
                                                       out_z_scale);
  return cudaGetLastError();
}

}  // namespace kiln::cuda::int8
