// INT8 and FP8 (E4M3) implicit-GEMM convolutions fed by the Tensor Memory Accelerator, run as
// the igemm family's "tma" tiles (Hopper only).
//
// Why it exists: on the compute-bound deep layers of ResNet-50 (3x3 and 1x1 over 256-2048
// channels at 14x14 and 7x7) igemm's wgmma tiles reach about 860 of the H100's 1979 dense
// 8-bit TOPS. Every thread there computes the im2col addresses of its copies, issues them
// (cp.async) and meets every other thread at a barrier once per 64-byte reduction step
// (Nsight Compute: tensor pipe 47 % active, long-scoreboard and barrier stalls first). Here
// the gather is the TMA's: one thread of a producer warp issues, per step, an im2col copy of
// the 128 output pixels' input rows for one filter tap (padding and the pixels past the last
// image filled with zeros by the hardware) and a tiled copy of the filters, each completing on
// the stage's mbarrier; two consumer warpgroups wait on that barrier alone, multiply the stage
// (wgmma), and free it through a second mbarrier. No CTA-wide barrier is left in the main loop.
// The epilogue is the stream and halo tiles' (finish_8bit_tile).
#pragma once

#include <string>

#include <cuda_runtime.h>

namespace kiln::cuda::int8 {

struct IgemmConvParams;

// Empty when a TMA tile with `stages` pipeline stages runs `p`, else why not: INT8 operands and
// output with no residual or an INT8 one, or the same in FP8 (E4M3); output channels a
// multiple of 16; 16-byte aligned rows and per-channel vectors; strides up to 8 and a window
// geometry the TMA's im2col box can express (padding up to 128). Compute capability 9.0
// (igemm_conv checks).
std::string tma_conv_unsupported(const IgemmConvParams& p);

// Tiles of 128 pixels x `bn` channels with `stages` pipeline stages: 128 x 128 with 4 or 6,
// 128 x 256 with 6. The operands x and w must be 16-byte aligned (cudaErrorInvalidValue).
cudaError_t tma_conv(const IgemmConvParams& p, int bn, int stages, const void* x, const void* w,
                     cudaStream_t stream);

}  // namespace kiln::cuda::int8
