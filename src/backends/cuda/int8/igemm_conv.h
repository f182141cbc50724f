// kiln's own INT8 / FP8 (E4M3) convolution: an implicit GEMM on the tensor cores
// (mma.sync m16n8k32, int32 or f32 accumulation) with the requantizing epilogue fused in.
//
// Why it exists: on Hopper, cuDNN's and cuBLASLt's INT8 convolutions are slower than the
// FP16 ones on most ResNet-50 layers (3x3 64->64 at 56x56, batch 256: 0.461 ms INT8 against
// 0.128 ms FP16 on an H200), so INT8 engines lost to FP16. This kernel reads NHWC INT8
// activations, gathers the im2col rows on the fly (no workspace), streams them through a
// multi-stage cp.async pipeline into swizzled shared memory, and applies the epilogue of
// conv_epilogue (int8_kernels.h) to the accumulators in registers: the same float
// operations in the same order, so its INT8 outputs equal those of the direct kernel plus
// conv_epilogue bit for bit (the integer sums are exact whatever the order). FP8 sums are
// f32 in the tensor cores' order, so FP8 outputs match within rounding instead.
//
// The M dimension of the GEMM is the output pixels (N*Ho*Wo), N the output channels and
// the reduction R*S*C, walked tap by tap in 64-byte blocks of channels (inputs of 16 or 32
// channels, as a space-to-depth stem makes, pack 4 or 2 taps into each block instead).
#pragma once

#include <cstdint>
#include <string>

#include <cuda_runtime.h>

#include "backends/cuda/int8/int8_kernels.h"

namespace kiln::cuda::int8 {

enum class IgemmOutput { kInt8 = 0, kFp8 = 1, kF16 = 2 };

struct IgemmConvParams {
  // x: [n, h, w, c] NHWC, c the stored (padded) channel count, a multiple of 16.
  int n = 0, h = 0, w = 0, c = 0;
  // w: [>= k, r, s, c] (KRSC, same c); the first k filters are used.
  int k = 0;  // output channels computed: the GEMM's N
  int r = 1, s = 1, ho = 0, wo = 0;
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  bool fp8 = false;  // E4M3 operands (f32 accumulation), else INT8 (int32 accumulation)
  // Epilogue, as conv_epilogue: v = fma(acc, scale[k], bias[k]); residual; relu; output.
  const float* scale = nullptr;  // k entries
  const float* bias = nullptr;   // k entries
  const void* z = nullptr;       // residual [pixels, z_stride] of z_kind
  ResidualKind z_kind = ResidualKind::kNone;
  int z_stride = 0;
  float z_scale = 1.0f;
  bool relu = false;
  void* y = nullptr;  // [pixels, y_stride] of y_kind; channels [0, k) written
  int y_stride = 0;
  IgemmOutput y_kind = IgemmOutput::kInt8;
  float y_inv_scale = 1.0f;
};

// Empty when the output, and the residual if any, are of the operands' 8-bit type (INT8, or
// E4M3 for FP8 operands), the epilogue of the stream, halo and TMA tiles (finish_8bit_tile);
// else why not.
std::string eight_bit_epilogue_unsupported(const IgemmConvParams& p);

// Tile shapes (output pixels x output channels per thread block); tactic selection times each.
int igemm_tile_count();
std::string igemm_tile_name(int tile);
int igemm_tile_index(const std::string& name);  // -1 if no tile has that name

// Empty when the kernel takes these parameters, else why not (channel counts, alignment,
// grid size, an FP8 request on a device without FP8 tensor cores is checked by the caller).
std::string igemm_unsupported(const IgemmConvParams& p);

// Empty when `tile` runs these parameters on the current device, else why not: igemm_unsupported's
// reasons, and those of the tile (the stream, halo and TMA tiles take 8-bit outputs and their
// own shapes: stream_gemm.h, halo_conv.h, tma_conv.h; they and the wgmma tiles need compute
// capability 9.0).
std::string igemm_tile_unsupported(const IgemmConvParams& p, int tile);

// cudaErrorNotSupported where igemm_tile_unsupported gives a reason.
cudaError_t igemm_conv(const IgemmConvParams& p, int tile, const void* x, const void* w, cudaStream_t stream);

}  // namespace kiln::cuda::int8
