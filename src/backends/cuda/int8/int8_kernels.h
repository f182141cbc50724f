// Device kernels of the INT8 and FP8 (E4M3) paths. Activations are symmetric per-tensor INT8 in NHWC with
// the channel count padded to a multiple of 4 (what cuDNN's INT8 convolutions require);
// padded channels hold zeros.
//
// Rounding is round-half-to-even with saturation to [-128, 127], as ONNX QuantizeLinear,
// FP8 values are E4M3 codes (uint8), converted with round-to-nearest-even and saturation
// to +-448 (quant/fp8.h is the host twin). FP8 tensors pad channels to a multiple of 16.
// The epilogue's float arithmetic is written as explicit fused multiply-adds so that
// the CPU reference (quant/int8_reference.h) reproduces it bit for bit.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace kiln::cuda::int8 {

// x: f32 or f16 NHWC with `c` channels; y: int8 NHWC with `c_pad` channels,
// y = saturate(round(x * inv_scale)), padded channels 0.
cudaError_t quantize_nhwc(const void* x, bool x_is_f16, int64_t pixels, int c, int c_pad, float inv_scale,
                          int8_t* y, cudaStream_t stream);

// The same for FP8: y = e4m3(x * inv_scale), padded channels 0.
cudaError_t quantize_nhwc_fp8(const void* x, bool x_is_f16, int64_t pixels, int c, int c_pad, float inv_scale,
                              uint8_t* y, cudaStream_t stream);

// Quantization into the space-to-depth image of a thin stride-2 convolution's input
// (quant/space_to_depth.h): x f32 or f16 [n, c, h, w] in NCHW or NHWC order; y [n, hs, ws, 16]
// INT8 (or E4M3 codes with `fp8`), y(i, j, (2a + b) * c + ch) = Q(x(ch, 2i + a - pad_top,
// 2j + b - pad_left) * inv_scale), zero outside the image and in channels from 4c on.
struct SpaceToDepthParams {
  int n = 0, c = 0, h = 0, w = 0, pad_top = 0, pad_left = 0, hs = 0, ws = 0;
  bool x_is_f16 = false, x_nhwc = false, fp8 = false;
  float inv_scale = 1.0f;
};
cudaError_t quantize_space_to_depth(const SpaceToDepthParams& p, const void* x, void* y, cudaStream_t stream);

// Direct INT8 convolution (one thread per output, int32 sums stored as f32), the fallback
// when cuDNN offers no INT8 algorithm for a shape. x: [n,h,w,c] i8, w: [k,r,s,c] i8,
// acc: [n,ho,wo,k] f32.
struct DirectConvParams {
  int n = 0, h = 0, w = 0, c = 0, k = 0, r = 0, s = 0, ho = 0, wo = 0;
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
};
cudaError_t direct_conv(const DirectConvParams& p, const int8_t* x, const int8_t* w, float* acc, cudaStream_t stream);
// FP8 operands (E4M3 codes), products summed in f32 in channel order.
cudaError_t direct_conv_fp8(const DirectConvParams& p, const uint8_t* x, const uint8_t* w, float* acc,
                            cudaStream_t stream);

enum class ResidualKind { kNone = 0, kInt8 = 1, kF16 = 2, kFp8 = 3 };

// v = fma(acc, scale[k], bias[k]); v = fma(z, z_scale, v) (or v + z for f16 z); relu;
// (an FP8 z is decoded and scaled like an INT8 one); then y = int8 saturate(round(v *
// y_inv_scale)) or e4m3(v * y_inv_scale) over k_pad channels, or f16 v over k.
struct EpilogueParams {
  int64_t pixels = 0;           // N * H * W
  int k = 0, k_pad = 0;         // output channels, and the padded count of acc / int8 tensors
  const float* acc = nullptr;   // [pixels, k_pad] int32 sums held exactly as f32
  const float* scale = nullptr; // k_pad: input scale * weight scale of each channel
  const float* bias = nullptr;  // k_pad
  const void* z = nullptr;      // residual: int8/fp8 [pixels, k_pad] or f16 [pixels, k]
  ResidualKind z_kind = ResidualKind::kNone;
  float z_scale = 1.0f;
  bool relu = false;
  void* y = nullptr;
  bool y_int8 = true;
  bool y_fp8 = false;           // FP8 output (y_int8 false)
  float y_inv_scale = 1.0f;
};
cudaError_t conv_epilogue(const EpilogueParams& p, cudaStream_t stream);

// Epilogue constants for the fused (library) tactics, with the output's requantization
// folded in so the library needs no final multiply: out_scale = scale * y_inv_scale,
// out_bias = bias * y_inv_scale, out_z_scale = z_scale * y_inv_scale (all k_pad long).
cudaError_t fold_epilogue_constants(const float* scale, const float* bias, int k_pad, float y_inv_scale,
                                    float z_scale, float* out_scale, float* out_bias, float* out_z_scale,
                                    cudaStream_t stream);

// Constants of the FP8 cuBLASLt GEMM (fp8_gemm.h): the bias as f16 (its bias type when C is
// f16) and the output scale y_inv_scale as a device scalar.
cudaError_t fp8_gemm_constants(const float* bias, int k_pad, float y_inv_scale, void* bias_f16, float* d_scale,
                               cudaStream_t stream);

}  // namespace kiln::cuda::int8
