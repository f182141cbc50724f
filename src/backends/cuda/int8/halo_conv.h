// 3x3 stride-1 "same" INT8 and FP8 (E4M3) convolutions (pad 1), and the 4x4 unpadded ones
// over 16 channels that space-to-depth stems become, from one input tile per 128 outputs,
// run as the igemm family's "halo" tile.
//
// Why it exists: the general igemm kernel gathers every filter tap's input rows anew, nine
// 16-byte copies per input row and channel block for a 3x3, and on ResNet-50's 3x3
// convolutions over 64 and 128 channels it is bound by those copies' instructions (no faster
// than FP16). Here outputs are numbered over the zero-padded image ((h + 2) x (w + 2) per
// image; the two padding columns and rows give outputs that are computed and dropped), so the
// input rows of tap (r, s) for 128 consecutive outputs are the 128 consecutive padded input
// pixels starting r * (w + 2) + s further on: one tile of 128 + 2 (w + 2) + 2 pixels holds
// every tap's rows. Each input byte is copied once per tile; each warp loads its A fragments
// of a tap straight from the shifted rows (ldmatrix) and the warpgroup multiplies them with
// wgmma (A from registers, filters resident in shared memory). The epilogue is igemm's: INT8
// outputs bit for bit equal to conv_epilogue's, FP8 ones within the rounding of the f32 sums. A space-to-depth stem (16-byte pixels) is the
// same with its window unpadded: each 32-byte k step is two neighbouring pixels, two filter
// taps of one row.
#pragma once

#include <string>

#include <cuda_runtime.h>

namespace kiln::cuda::int8 {

struct IgemmConvParams;

// Empty when the halo kernel runs `p`, else why not: INT8 operands and output with no residual
// or an INT8 one, or the same in FP8 (E4M3 operands, output and residual), a 3x3 convolution with stride 1, dilation 1 and padding 1 over 64 or 128
// input channels or a 4x4 stride-1 unpadded one over 16, output channels a multiple of 64,
// 16-byte aligned rows and per-channel vectors, and tiles that fit in shared memory. Compute
// capability 9.0 (igemm_conv checks).
std::string halo_conv_unsupported(const IgemmConvParams& p);

cudaError_t halo_conv(const IgemmConvParams& p, const void* x, const void* w, cudaStream_t stream);

}  // namespace kiln::cuda::int8
