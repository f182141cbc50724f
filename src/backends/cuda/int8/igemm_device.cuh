// Helpers shared by kiln's INT8 / FP8 GEMM kernels (igemm_conv.cu, stream_gemm.cu,
// halo_conv.cu): division by launch constants, asynchronous global -> shared copies, the
// 64-byte-swizzled tile layout that both ldmatrix and Hopper's wgmma descriptors
// (wgmma_ops.cuh) read, and the INT8 and E4M3 conversions of the epilogues. Included by .cu files.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

namespace kiln::cuda::int8::device {

__host__ __device__ __forceinline__ bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0; }

// Shared-memory regions start on 512 bytes: the wgmma 64-byte swizzle is a function of the
// address, so a tile's layout lines up with it only from such a boundary.
__host__ __device__ constexpr int align512(int bytes) { return (bytes + 511) / 512 * 512; }

// Opts `kernel` in to `smem` bytes of dynamic shared memory (a launch above 48 KB needs it),
// once per device: the opt-in is a per-device setting of the kernel, and `opted` is this
// kernel's own set of done device ordinals (one static per kernel instantiation).
template <class Kernel>
cudaError_t opt_in_shared_memory(Kernel kernel, int smem, int device, std::atomic<uint64_t>& opted) {
  const uint64_t bit = uint64_t(1) << (device & 63);
  if (opted.load() & bit) return cudaSuccess;
  if (const cudaError_t st = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
      st != cudaSuccess)
    return st;
  opted.fetch_or(bit);
  return cudaSuccess;
}

// Thread blocks of `kernel` (`threads` threads, `smem` bytes) resident on the whole device at
// once, at least 1: one wave of a persistent kernel's blocks.
template <class Kernel>
int device_resident_blocks(Kernel kernel, int threads, int smem, int device) {
  int per_sm = 1, sms = 1;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, smem) != cudaSuccess || per_sm < 1)
    per_sm = 1;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms < 1) sms = 1;
  return per_sm * sms;
}

// The same for a kernel whose shared memory is fixed at compile time, so that the count is
// fixed per device and asked for once: `cache` is the kernel's own memo by device ordinal
// (one static per instantiation; 0 unknown).
template <class Kernel>
int cached_resident_blocks(Kernel kernel, int threads, int smem, int device, std::atomic<int> (&cache)[64]) {
  const bool cacheable = device >= 0 && device < 64;
  if (cacheable)
    if (const int known = cache[device].load(); known > 0) return known;
  const int blocks = device_resident_blocks(kernel, threads, smem, device);
  if (cacheable) cache[device].store(blocks);
  return blocks;
}

// Division by a divisor fixed at launch, as a multiply-high and a shift: the index math of
// every copy (pixel -> image, row, column; step -> filter tap) otherwise costs a software
// division each, which made the memory-bound shapes instruction-bound. Exact for
// dividends below 2^31 (the round-up method, as PyTorch's IntDivider).
struct FastDivisor {
  uint32_t divisor = 1, multiplier = 1, shift = 0;
  FastDivisor() = default;
  explicit FastDivisor(uint32_t d) : divisor(d) {
    while ((uint32_t(1) << shift) < d) ++shift;
    multiplier = static_cast<uint32_t>(((uint64_t(1) << 32) * ((uint64_t(1) << shift) - d)) / d + 1);
  }
  __device__ __forceinline__ int div(int n) const {
    return static_cast<int>((__umulhi(static_cast<uint32_t>(n), multiplier) + static_cast<uint32_t>(n)) >> shift);
  }
};

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

// Four 8x8 matrices of 16-bit elements (here: 8 rows x 16 bytes each) from shared memory,
// row addresses given by lanes 0-7, 8-15, 16-23, 24-31: the A fragment of an m16n8k32 mma
// (or of a warp's 16 rows of a register-A wgmma) when lanes 0-15 address rows 0-15 at the
// low 16 bytes and lanes 16-31 the same rows at the high 16 bytes.
__device__ __forceinline__ void load_matrix_x4(uint32_t address, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
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

// Shared-memory rows of an INT8 residual or output tile of BN channels: the 16-byte pad puts
// the rows one warp writes per accumulator fragment on distinct banks.
__host__ __device__ constexpr int padded_row(int bn) { return bn + 16; }

// Two E4M3 codes (byte 0 and byte 1 of `pair`) as floats, exactly, in one conversion
// instruction (cvt.rn.f16x2.e4m3x2; E4M3 -> f16 -> f32 is exact).
__device__ __forceinline__ void e4m3_pair_to_floats(uint32_t pair, float& lo, float& hi) {
  const __half2 h = __half2(__nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(pair), __NV_E4M3));
  lo = __low2float(h);
  hi = __high2float(h);
}

// E4M3 codes of lo (byte 0) and hi (byte 1), round to nearest even, saturated to +-448, in
// one conversion instruction: quant_device_math.cuh's to_e4m3 of each.
__device__ __forceinline__ uint32_t e4m3_pair_of(float lo, float hi) {
  return __nv_cvt_float2_to_fp8x2(make_float2(lo, hi), __NV_SATFINITE, __NV_E4M3);
}

// The fixed 8-bit epilogue of a 128 x BN tile whose accumulators are laid out as wgmma's
// (warp w: rows 16w..16w+15; lane: rows lane/4 and lane/4 + 8, columns 2 * (lane % 4) and the
// next of each group of 8), into the output tile `y_tile`: conv_epilogue's arithmetic in its
// order (see int8_kernels.cu), v = fma(acc, scale, bias); v = fma(z, z_scale, v); relu;
// convert(v * (1/s_y)). INT8 (int32 sums): residual and output INT8, saturate(round(.)).
// FP8 (f32 sums): residual and output E4M3, to_e4m3(.). `params` holds [scale | bias][BN];
// `z_tile` the residual rows (Residual only).
template <bool Fp8, int BN, bool Residual>
__device__ __forceinline__ void finish_8bit_tile(const std::conditional_t<Fp8, float, int> (&acc)[BN / 2],
                                                 const float* params, const uint8_t* z_tile, uint8_t* y_tile,
                                                 float z_scale, bool relu, float y_inv_scale, int warp, int lane) {
  const int group = lane >> 2, pair = (lane & 3) * 2;
#pragma unroll
  for (int j = 0; j < BN / 8; ++j) {
    const int col = j * 8 + pair;
    const float2 sc = *reinterpret_cast<const float2*>(params + col);
    const float2 bi = *reinterpret_cast<const float2*>(params + BN + col);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = warp * 16 + group + h * 8;
      float v0 = __fmaf_rn(static_cast<float>(acc[j * 4 + 2 * h]), sc.x, bi.x);
      float v1 = __fmaf_rn(static_cast<float>(acc[j * 4 + 2 * h + 1]), sc.y, bi.y);
      if constexpr (Residual) {
        float z0, z1;
        const uint32_t zz = *reinterpret_cast<const uint16_t*>(z_tile + row * padded_row(BN) + col);
        if constexpr (Fp8)
          e4m3_pair_to_floats(zz, z0, z1);
        else
          int8_pair_to_floats(zz, z0, z1);
        v0 = __fmaf_rn(z0, z_scale, v0);
        v1 = __fmaf_rn(z1, z_scale, v1);
      }
      if (relu) {
        v0 = fmaxf(v0, 0.0f);
        v1 = fmaxf(v1, 0.0f);
      }
      uint32_t out;
      if constexpr (Fp8)
        out = e4m3_pair_of(__fmul_rn(v0, y_inv_scale), __fmul_rn(v1, y_inv_scale));
      else
        out = pack_byte_pair(saturate_round_word(__fmul_rn(v0, y_inv_scale)),
                             saturate_round_word(__fmul_rn(v1, y_inv_scale)));
      *reinterpret_cast<uint16_t*>(y_tile + row * padded_row(BN) + col) = static_cast<uint16_t>(out);
    }
  }
}

}  // namespace kiln::cuda::int8::device
