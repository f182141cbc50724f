// Device helpers shared by kiln's INT8 / FP8 GEMM kernels (igemm_conv.cu, stream_gemm.cu):
// asynchronous global -> shared copies, the 64-byte-swizzled stage tile layout that both
// ldmatrix and Hopper's wgmma descriptors (wgmma_ops.cuh) read, and the INT8 output
// conversion. Device code only; included by .cu files.
#pragma once

#include <cstdint>

namespace kiln::cuda::int8::device {

// Bytes of the reduction per stage tile row: four 16-byte chunks, two mma k-steps of 32.
constexpr int kBK = 64;

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared without a register round trip; `valid` false writes zeros and
// reads nothing (im2col padding, channels past c, rows past the last pixel).
__device__ __forceinline__ void copy16_async(uint32_t dst, const void* src, bool valid) {
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void commit_async() { asm volatile("cp.async.commit_group;\n" ::); }
template <int Pending>
__device__ __forceinline__ void wait_async() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending));
}

// Byte offset of (row, 16-byte chunk) in a [rows][64 bytes] stage tile. Rows are 64 bytes, so
// without the XOR the 8 rows one ldmatrix phase reads would fall on 4 bank groups twice
// over; with it they cover all 32 banks once. It is also the 64-byte swizzle of wgmma's
// shared-memory descriptors, for tiles that start on 512 bytes.
__device__ __forceinline__ int tile_offset(int row, int chunk) { return row * kBK + ((chunk ^ ((row >> 1) & 3)) << 4); }

// saturate(round_half_even(v)) to [-128, 127] in one conversion instruction, equal to
// int8_kernels.cu's saturate_round for every non-NaN input; byte 0 holds the INT8 value (the
// other bytes repeat its sign, for pack_byte_pair to drop). The epilogues convert with the
// conversion unit throughout: on an H200 that was 4-13 % faster on the memory-bound 1x1
// shapes than exact integer/float conversions built from ALU operations (magic-number
// additions), which cost more issue slots than the conversion unit's lower throughput.
__device__ __forceinline__ uint32_t saturate_round_word(float v) {
  int q;
  asm("cvt.rni.sat.s8.f32 %0, %1;" : "=r"(q) : "f"(v));
  return static_cast<uint32_t>(q);
}

// Byte 0 of `lo` and byte 0 of `hi` as a 16-bit pair (upper bytes unspecified): one byte
// permute, where masking and shifting take two.
__device__ __forceinline__ uint32_t pack_byte_pair(uint32_t lo, uint32_t hi) {
  uint32_t d;
  asm("prmt.b32 %0, %1, %2, 0x40;" : "=r"(d) : "r"(lo), "r"(hi));
  return d;
}

// The two signed bytes of a 16-bit pair as floats, exactly. Byte 1 is sign-extended by one
// byte permute (selector 9: byte 1 with its sign replicated) instead of a shift pair.
__device__ __forceinline__ void int8_pair_to_floats(uint32_t pair, float& lo, float& hi) {
  lo = static_cast<float>(static_cast<int8_t>(pair));
  int h;
  asm("prmt.b32 %0, %1, 0, 0x9991;" : "=r"(h) : "r"(pair));
  hi = static_cast<float>(h);
}

}  // namespace kiln::cuda::int8::device
