// Pointwise INT8 and FP8 (E4M3) convolutions (1x1, stride 1, unpadded: a plain GEMM over
// NHWC rows) as a persistent streaming kernel, run as the igemm family's "stream" tiles.
//
// Why it exists: ResNet-50's 1x1 convolutions over few input channels (64 -> 256 with a
// residual at 56x56) move many bytes per multiply, so they should run at the memory's
// speed; the general igemm kernel spent most of its instructions on per-block setup (a
// block there does one 64-byte reduction step) and on 64-bit address math, and ran at half
// of it. Here each thread block keeps its filters and per-channel scales in shared memory,
// walks many 128-pixel tiles with the next tile's input and residual rows in flight while
// the current one is multiplied (wgmma) and finished, and computes every address from
// per-thread constants. The epilogue is igemm's: the same float operations in the same
// order, INT8 outputs bit for bit equal to conv_epilogue's (FP8 ones within the rounding of
// the tensor cores' f32 sums).
#pragma once

#include <string>

#include <cuda_runtime.h>

namespace kiln::cuda::int8 {

struct IgemmConvParams;

// Output channels per thread block of the stream tiles.
constexpr int kStreamTileChannels[] = {64, 128};

// Empty when the stream kernel with `bn` output channels per block runs `p`, else why not:
// INT8 operands with an INT8 output and no residual or an INT8 one, or the same in FP8
// (E4M3 operands, output and residual), a pointwise convolution, input
// channels 64, 128, 256 or 512, output channels a multiple of `bn`, 16-byte aligned rows and
// per-channel vectors. Like every wgmma tile, it runs on compute capability 9.0 only
// (igemm_conv checks the device).
std::string stream_gemm_unsupported(const IgemmConvParams& p, int bn);

cudaError_t stream_gemm(const IgemmConvParams& p, int bn, const void* x, const void* w, cudaStream_t stream);

}  // namespace kiln::cuda::int8
