#include "backends/cuda/int8/igemm_conv.h"

#include "backends/cuda/int8/halo_conv.h"
#include "backends/cuda/int8/igemm_device.cuh"
#include "backends/cuda/int8/quant_device_math.cuh"
#include "backends/cuda/int8/stream_gemm.h"
#include "backends/cuda/int8/tma_conv.h"
#include "backends/cuda/int8/wgmma_ops.cuh"

#include <atomic>
#include <climits>

#include <cuda_fp16.h>

namespace kiln::cuda::int8 {

namespace {

using namespace device;

// What the kernel takes besides the parameters: its divisors (output pixels per image and
// per row, filter width, channel blocks); how many filter taps one 64-byte reduction step
// packs (1, or 64 / c for inputs of 16 or 32 channels, a space-to-depth stem, whose taps
// would otherwise fill a quarter or half of each step with zeros); and two shapes whose
// copy setup is shorter. Unpadded: every tap of every window lies in the image. Pointwise
// (1x1, stride 1, unpadded): output pixel m reads input pixel m.
struct KernelConstants {
  FastDivisor per_image, wo, s, channel_blocks;
  int taps_per_step = 1;
  bool unpadded = false, pointwise = false;
};

// Bits t of [0, taps) (taps <= 16) for which start + t * step lies in [0, size): which
// filter rows (columns) of a window land inside the image. Undilated, a range of bits.
__device__ __forceinline__ uint32_t inside_bits(int start, int taps, int step, int size) {
  if (step == 1) {
    const int lo = min(max(-start, 0), taps), hi = min(max(size - start, 0), taps);
    return hi > lo ? ((1u << hi) - 1) & ~((1u << lo) - 1) : 0u;
  }
  uint32_t bits = 0;
  for (int t = 0; t < taps; ++t) {
    const int v = start + t * step;
    bits |= uint32_t(v >= 0 && v < size) << t;
  }
  return bits;
}

// f(row, piece) for this thread's 16-byte pieces of a tile of Rows rows of RowBytes bytes
// (an INT8 residual or output tile): a fixed count per thread, consecutive threads on
// consecutive pieces of a row.
template <int Rows, int RowBytes, int Threads, class F>
__device__ __forceinline__ void for_each_piece(int tid, F&& f) {
  constexpr int kPieces = RowBytes / 16;
  static_assert(Rows * kPieces % Threads == 0, "the pieces divide evenly among the threads");
#pragma unroll
  for (int index = tid; index < Rows * kPieces; index += Threads) f(index / kPieces, index % kPieces);
}

// One m16n8k32 tensor-core step: INT8 with int32 sums, or E4M3 with f32 sums.
template <bool Fp8>
struct TensorCoreStep;

template <>
struct TensorCoreStep<false> {
  using Acc = int;
  __device__ __forceinline__ static void run(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

template <>
struct TensorCoreStep<true> {
  using Acc = float;
  __device__ __forceinline__ static void run(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    asm("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
  }
};

// conv_epilogue's arithmetic (see int8_kernels.cu), the same intrinsics in the same order so
// that INT8 results are identical:
//   v = fma(acc, scale, bias); v = fma(z, z_scale, v) (or v + z for f16 z); relu; convert.
__device__ __forceinline__ float add_residual(const IgemmConvParams& p, ResidualKind z_kind, float v, float z) {
  return z_kind == ResidualKind::kF16 ? __fadd_rn(v, z) : __fmaf_rn(z, p.z_scale, v);
}
__device__ __forceinline__ float residual_at(const IgemmConvParams& p, ResidualKind z_kind, int64_t pixel,
                                             int channel) {
  const int64_t at = pixel * p.z_stride + channel;
  switch (z_kind) {
    case ResidualKind::kInt8: return static_cast<float>(static_cast<const int8_t*>(p.z)[at]);
    case ResidualKind::kFp8: return from_e4m3(static_cast<const uint8_t*>(p.z)[at]);
    case ResidualKind::kF16: return __half2float(static_cast<const __half*>(p.z)[at]);
    case ResidualKind::kNone: break;
  }
  return 0.0f;
}

// Bytes per element of the residual and of the output.
__host__ __device__ constexpr int residual_bytes(ResidualKind z_kind) { return z_kind == ResidualKind::kF16 ? 2 : 1; }
__host__ __device__ constexpr int output_bytes(IgemmOutput y_kind) { return y_kind == IgemmOutput::kF16 ? 2 : 1; }

// Epilogue variants. The common INT8 and FP8 cases are compiled with the residual and output
// kinds fixed (the operands' 8-bit type, or none for the residual), so the per-element code carries no branches on them and the tile index math uses
// constant element sizes (the epilogue is most of the instructions of the memory-bound
// shapes); everything else takes the kinds from the parameters. The fixed variants also
// assume what launch checks: output channels a multiple of 16 and 16-byte aligned output
// (and residual) rows, so every row moves in whole 16-byte pieces with no fallback path.
// kEpilogueF16Residual (8-bit residual, f16 output) is a network's last convolution before a
// float pooling, as ResNet-50's.
enum Epilogue : int { kEpilogueAny = 0, kEpilogue8Bit = 1, kEpilogue8BitResidual = 2, kEpilogueF16Residual = 3 };
__host__ __device__ constexpr bool fixed_residual_tile(int epi) {
  return epi == kEpilogue8BitResidual || epi == kEpilogueF16Residual;
}
__host__ __device__ constexpr IgemmOutput fixed_output(int epi, bool fp8) {
  return epi == kEpilogueF16Residual ? IgemmOutput::kF16 : fp8 ? IgemmOutput::kFp8 : IgemmOutput::kInt8;
}
__host__ __device__ constexpr ResidualKind fixed_residual(bool fp8) { return fp8 ? ResidualKind::kFp8 : ResidualKind::kInt8; }


// Rows of `stride` elements of `bytes` starting at `ptr` can be moved in 16-byte pieces.
__host__ __device__ __forceinline__ bool rows_aligned(const void* ptr, int stride, int bytes) {
  return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0 && (stride * bytes) % 16 == 0;
}

// Shared-memory tiles of the epilogue have rows of BN elements plus 16 bytes: the pad puts
// the 8 rows one warp touches per fragment on distinct banks.
__host__ __device__ constexpr int epilogue_row_bytes(int bn, int element_bytes) { return bn * element_bytes + 16; }

// Shared memory of the staged scales and biases (fixed epilogues only).
__host__ __device__ constexpr int params_smem_bytes(int bn, int epi) { return epi == kEpilogueAny ? 0 : 2 * bn * 4; }

// Shared memory before the residual tile: the pipeline's stage tiles, or the output tile
// (f16 at most) if larger; a multiple of 512 so the residual tile stays 16-byte aligned.
__host__ __device__ constexpr int main_smem_bytes(int bm, int bn, int stages) {
  const int pipeline = stages * (bm + bn) * kBK, output = bm * epilogue_row_bytes(bn, 2);
  return align512(pipeline > output ? pipeline : output);
}

// The kernel: one thread block computes a BM x BN tile of the output (pixels x channels).
// mma.sync (Wgmma false): WM x WN warps, each a (BM/WM) x (BN/WN) tile of m16n8 fragments
// loaded with ldmatrix. wgmma (Hopper): BM/64 warpgroups, each 64 rows x BN read straight
// from shared memory; then WM = BM/16 warps of 16 rows and all BN columns (WN = 1), whose
// accumulators have the same m16n8 fragment layout, so the epilogue is shared.
// MinBlocks > 1 caps registers so that many blocks share an SM: the memory-bound shapes
// (1x1 convolutions over few channels) need the bytes of many blocks in flight.
template <bool Fp8, bool Wgmma, int BM, int BN, int WM, int WN, int Stages, int MinBlocks, int Epi>
__global__ void __launch_bounds__(WM* WN * 32, MinBlocks)
    igemm_conv_kernel(IgemmConvParams p, KernelConstants div, const uint8_t* __restrict__ x, const uint8_t* __restrict__ w) {
  using Step = TensorCoreStep<Fp8>;
  using Acc = typename Step::Acc;
  static_assert(!Wgmma || (WM * 16 == BM && WN == 1 && BM % 64 == 0), "wgmma: one warp per 16 rows");
  constexpr int kThreads = WM * WN * 32;
  constexpr int kWarpM = BM / WM, kWarpN = BN / WN;
  constexpr int kFragsM = kWarpM / 16, kFragsN = kWarpN / 8;
  static_assert(kWarpM % 16 == 0 && kWarpN % 16 == 0, "warp tiles are whole pairs of m16n8 fragments");
  static_assert(!Wgmma || BN == 64 || BN == 128, "wgmma wrappers exist for n64 and n128");
  // Each thread copies one 16-byte chunk (of four per row) of kRowsPerPass rows per pass.
  constexpr int kRowsPerPass = kThreads / 4;
  static_assert(BM % kRowsPerPass == 0 && BN % kRowsPerPass == 0, "copy passes cover the tile");
  constexpr int kLoadsA = BM / kRowsPerPass, kLoadsB = BN / kRowsPerPass;
  constexpr int kStageBytes = (BM + BN) * kBK;

  // Stage tiles start on 512 bytes: the 64-byte swizzle wgmma applies is a function of the
  // address, so tile_offset's pattern must line up with it (the launch adds the slack).
  extern __shared__ __align__(128) uint8_t smem_raw[];
  uint8_t* const smem = smem_raw + ((512 - (shared_address(smem_raw) & 511)) & 511);
  // Then, after the stage tiles (which the output tile reuses), the block's scales and biases
  // (fixed epilogues: BN floats each) and the residual tile.
  constexpr int params_offset = main_smem_bytes(BM, BN, Stages);
  constexpr int z_tile_offset = params_offset + params_smem_bytes(BN, Epi);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int warp_m = warp / WN, warp_n = warp % WN;
  const int64_t pixels = int64_t(p.n) * p.ho * p.wo;
  // Output channels vary fastest across blocks so that blocks reading the same pixels run
  // together and share them through L2.
  const int block_n = blockIdx.x * BN;
  const int64_t block_m = int64_t(blockIdx.y) * BM;

  // This thread's copy assignments: the same 16-byte chunk of kLoadsA pixel rows and kLoadsB
  // filters. Everything about them that does not change from step to step is worked out
  // here, once: the copies' integer instructions are what bounds these kernels (the ALU is
  // their busiest pipe), so a step's copy is a base plus the step's offset under a bit test.
  //  - Channels: chunk `chunk` holds bytes [thread_byte, +16) of a 64-byte block of one tap,
  //    or, packing taps (16 or 32 channels), bytes of tap `tap_in_step` of the step's taps.
  //  - A rows: a pointer to the row's window (its top-left input pixel, possibly in the
  //    padding) at this thread's bytes, and which filter rows (bits 0-15) and columns (bits
  //    16-31) land inside the image. Copies that fall outside copy nothing (zeros): their
  //    addresses are never read.
  //  - Shared-memory destinations in stage 0 (a stage adds stage * kStageBytes).
  const int chunk = tid & 3;
  const int first_row = tid >> 2;
  const int chunks_per_tap = div.taps_per_step > 1 ? p.c >> 4 : 1;
  const int tap_in_step = div.taps_per_step > 1 ? chunk / chunks_per_tap : 0;
  const int thread_byte = (div.taps_per_step > 1 ? chunk - tap_in_step * chunks_per_tap : chunk) * 16;
  const int image_bytes = p.h * p.w * p.c;
  const uint8_t* window[kLoadsA];
  uint32_t inside[kLoadsA], a_dst[kLoadsA];
#pragma unroll
  for (int i = 0; i < kLoadsA; ++i) {
    const int row = first_row + i * kRowsPerPass;
    const int64_t m = block_m + row;
    a_dst[i] = shared_address(smem + tile_offset(row, chunk));
    window[i] = x;
    inside[i] = 0;  // past the last pixel: every tap out of bounds, zeros
    if (m >= pixels) continue;
    if (div.pointwise) {
      window[i] = x + m * p.c + thread_byte;
      inside[i] = ~0u;
      continue;
    }
    const int img = div.per_image.div(static_cast<int>(m));
    const int rem = static_cast<int>(m) - img * p.ho * p.wo;
    const int oh = div.wo.div(rem), ow = rem - oh * p.wo;
    const int ih0 = oh * p.stride_h - p.pad_h, iw0 = ow * p.stride_w - p.pad_w;
    // 32-bit within the image (igemm_unsupported keeps one below 2^31 bytes).
    window[i] = x + int64_t(img) * image_bytes + ((ih0 * p.w + iw0) * p.c + thread_byte);
    inside[i] = div.unpadded ? ~0u
                             : inside_bits(ih0, p.r, p.dil_h, p.h) | (inside_bits(iw0, p.s, p.dil_w, p.w) << 16);
  }
  const int filter_stride = p.r * p.s * p.c;
  const uint8_t* filter[kLoadsB];
  bool filter_ok[kLoadsB];
  uint32_t b_dst[kLoadsB];
#pragma unroll
  for (int j = 0; j < kLoadsB; ++j) {
    const int row = first_row + j * kRowsPerPass;
    const int k = block_n + row;
    filter_ok[j] = k < p.k;
    filter[j] = w + (filter_ok[j] ? int64_t(k) * filter_stride : 0) + thread_byte;
    b_dst[j] = shared_address(smem + BM * kBK + tile_offset(row, chunk));
  }

  const int channel_blocks = (p.c + kBK - 1) / kBK;
  const int taps = p.r * p.s;
  const int steps = div.taps_per_step > 1 ? (taps + div.taps_per_step - 1) / div.taps_per_step : taps * channel_blocks;

  // Stage `stage` <- reduction step `step`: filter tap (tr, ts), channels [cb*64, cb*64+64);
  // or, packing taps, taps [step * taps_per_step, ...), this thread's chunk in one of them.
  // Either way chunk `chunk` of the A rows and of the B rows covers the same tap and channels.
  // Without packing, tap and block are the same for the whole block (uniform registers).
  auto load_step = [&](int stage, int step) {
    int tap, block_byte;
    bool channels_ok;
    if (div.taps_per_step > 1) {
      tap = step * div.taps_per_step + tap_in_step;
      block_byte = 0;
      channels_ok = tap < taps;
    } else {
      tap = div.channel_blocks.div(step);
      block_byte = (step - tap * channel_blocks) * kBK;
      channels_ok = block_byte + thread_byte < p.c;
    }
    const int tr = div.s.div(tap), ts = tap - tr * p.s;
    // 32-bit: igemm_unsupported keeps one image below 2^31 bytes.
    const int x_offset = (tr * p.dil_h * p.w + ts * p.dil_w) * p.c + block_byte;
    const int w_offset = tap * p.c + block_byte;
    const uint32_t tap_bits = (1u << tr) | (1u << (16 + ts));
    const uint32_t stage_bytes = stage * kStageBytes;
#pragma unroll
    for (int i = 0; i < kLoadsA; ++i)
      copy16_async(a_dst[i] + stage_bytes, window[i] + x_offset, channels_ok && (inside[i] & tap_bits) == tap_bits);
#pragma unroll
    for (int j = 0; j < kLoadsB; ++j)
      copy16_async(b_dst[j] + stage_bytes, filter[j] + w_offset, channels_ok && filter_ok[j]);
  };

  Acc acc[kFragsM][kFragsN][4];
#pragma unroll
  for (int i = 0; i < kFragsM; ++i)
#pragma unroll
    for (int j = 0; j < kFragsN; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = Acc(0);

  // The residual tile, when it moves in 16-byte pieces, is fetched into shared memory with
  // the first stage, so its latency hides behind the main loop instead of following it.
  const ResidualKind z_kind = Epi == kEpilogue8Bit             ? ResidualKind::kNone
                              : fixed_residual_tile(Epi)       ? fixed_residual(Fp8)
                                                             : p.z_kind;
  const IgemmOutput y_kind = Epi == kEpilogueAny ? p.y_kind : fixed_output(Epi, Fp8);
  const int z_bytes = residual_bytes(z_kind);
  const int z_row = epilogue_row_bytes(BN, z_bytes);
  uint8_t* const z_tile = smem + z_tile_offset;
  // The fixed residual variants are launched only where the residual can be staged (see
  // launch), so their per-element code has no fallback path.
  const bool z_staged = fixed_residual_tile(Epi) ||
                        (z_kind != ResidualKind::kNone && p.k % 16 == 0 && rows_aligned(p.z, p.z_stride, z_bytes));
  // Fixed epilogues read their scales and biases from shared memory too: in pairs,
  // with no per-column bounds tests (columns past k read zeros), instead of four predicated
  // global loads per pair of columns.
  float* const params = reinterpret_cast<float*>(smem + params_offset);  // [scale | bias][BN]
  if constexpr (Epi != kEpilogueAny) {
    constexpr int kPieces = BN / 4;  // 16-byte pieces of one vector
    for (int index = tid; index < 2 * kPieces; index += kThreads) {
      const int col = block_n + (index % kPieces) * 4;
      const float* src = (index < kPieces ? p.scale : p.bias) + col;
      copy16_async(shared_address(params + index * 4), src, col < p.k);
    }
  }
  if constexpr (fixed_residual_tile(Epi)) {  // 8-bit rows of BN bytes: a fixed count of pieces per thread
    for_each_piece<BM, BN, kThreads>(tid, [&](int row, int piece) {
      const int64_t m = block_m + row;
      const int col = block_n + piece * 16;
      copy16_async(shared_address(z_tile + row * z_row + piece * 16),
                   static_cast<const uint8_t*>(p.z) + m * p.z_stride + col, m < pixels && col < p.k);
    });
  } else if (z_staged) {
    const int chunks_per_row = BN * z_bytes / 16;
    const int per_chunk = 16 / z_bytes;  // channels
    for (int index = tid; index < BM * chunks_per_row; index += kThreads) {
      const int row = index / chunks_per_row, chunk_index = index - (index / chunks_per_row) * chunks_per_row;
      const int64_t m = block_m + row;
      const int col = block_n + chunk_index * per_chunk;
      const bool ok = m < pixels && col < p.k;
      const uint8_t* src = ok ? static_cast<const uint8_t*>(p.z) + (m * p.z_stride + col) * z_bytes
                              : static_cast<const uint8_t*>(p.z);
      copy16_async(shared_address(z_tile + row * z_row + chunk_index * 16), src, ok);
    }
  }

  // Steps in flight ahead of the one computed. wgmma keeps one batch of MMAs running while
  // the next is issued, so the stage it reads is refilled one step later than mma.sync's.
  constexpr int kAhead = Wgmma ? Stages - 2 : Stages - 1;
#pragma unroll
  for (int s = 0; s < kAhead; ++s) {
    if (s < steps) load_step(s, s);
    commit_async();
  }

  for (int step = 0; step < steps; ++step) {
    wait_async<kAhead - 1>();  // this step's stage has landed (for this thread) ...
    if constexpr (Wgmma) wgmma::fence_async_shared();  // ... visible to wgmma's reads ...
    __syncthreads();           // ... for every thread, and the stage refilled below is free
    const int next = step + kAhead;
    if (next < steps) load_step(next % Stages, next);
    commit_async();

    const uint8_t* tile = smem + (step % Stages) * kStageBytes;
    const uint32_t a_tile = shared_address(tile), b_tile = shared_address(tile + BM * kBK);
    if constexpr (Wgmma) {
      // This warpgroup's 64 rows of A; B whole. Two k32 steps, 32 bytes apart in the rows.
      const uint64_t a_desc = wgmma::descriptor(a_tile + (warp / 4) * 64 * kBK);
      const uint64_t b_desc = wgmma::descriptor(b_tile);
      auto& d = reinterpret_cast<Acc(&)[kFragsN * 4]>(acc[0]);
      wgmma::fence_operands(d);
      wgmma::fence();
      wgmma::Mma<Fp8, BN>::run(d, a_desc, b_desc, 1);
      wgmma::Mma<Fp8, BN>::run(d, a_desc + 2, b_desc + 2, 1);
      wgmma::commit();
      // The previous step's batch is done: its stage may be refilled after the next barrier.
      wgmma::wait<1>();
      wgmma::fence_operands(d);
    } else {
#pragma unroll
    for (int half = 0; half < 2; ++half) {  // two k32 steps per 64-byte stage
      uint32_t a[kFragsM][4];
#pragma unroll
      for (int i = 0; i < kFragsM; ++i) {
        // Lanes 0-15 address rows 0-15 of the fragment at the low 16 bytes, lanes 16-31 the
        // high 16 bytes: registers a0..a3 as mma's row-major A operand wants them.
        const int row = warp_m * kWarpM + i * 16 + (lane & 15);
        load_matrix_x4(a_tile + tile_offset(row, 2 * half + (lane >> 4)), a[i]);
      }
      uint32_t b[kFragsN][2];
#pragma unroll
      for (int j = 0; j < kFragsN; j += 2) {
        // Two n8 fragments per ldmatrix: lanes 0-7 / 8-15 the low / high 16 bytes of filters
        // 0-7, lanes 16-23 / 24-31 the same of filters 8-15.
        const int row = warp_n * kWarpN + j * 8 + ((lane >> 4) << 3) + (lane & 7);
        uint32_t r[4];
        load_matrix_x4(b_tile + tile_offset(row, 2 * half + ((lane >> 3) & 1)), r);
        b[j][0] = r[0];
        b[j][1] = r[1];
        b[j + 1][0] = r[2];
        b[j + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < kFragsM; ++i)
#pragma unroll
        for (int j = 0; j < kFragsN; ++j) Step::run(acc[i][j], a[i], b[j][0], b[j][1]);
    }
    }
  }
  wait_async<0>();
  if constexpr (Wgmma) {
    wgmma::wait<0>();
    wgmma::fence_operands(reinterpret_cast<Acc(&)[kFragsN * 4]>(acc[0]));
  }
  __syncthreads();  // every warp is done with the stage tiles: the epilogue reuses them

  // Phase 1: each thread finishes its accumulators (scale, bias, residual, relu, conversion)
  // and writes the output elements into a tile in shared memory (over the stage tiles).
  // Accumulator layout of m16n8: lane holds rows lane/4 and lane/4 + 8, columns 2*(lane%4)
  // and the next one.
  const int y_bytes = output_bytes(y_kind);
  const int y_row = epilogue_row_bytes(BN, y_bytes);
  uint8_t* const y_tile = smem;
  const int group = lane >> 2, pair = (lane & 3) * 2;
#pragma unroll
  for (int j = 0; j < kFragsN; ++j) {
    const int local_col = warp_n * kWarpN + j * 8 + pair;
    const int col = block_n + local_col;
    const bool first = col < p.k, second = col + 1 < p.k;
    // Predicated loads, all issued ahead of the arithmetic (branches here would serialize
    // them with it: measured slower on the memory-bound 1x1 shapes); or the staged pairs.
    float scale0, bias0, scale1, bias1;
    if constexpr (Epi != kEpilogueAny) {
      const float2 sc = *reinterpret_cast<const float2*>(params + local_col);
      const float2 bi = *reinterpret_cast<const float2*>(params + BN + local_col);
      scale0 = sc.x, scale1 = sc.y, bias0 = bi.x, bias1 = bi.y;
    } else {
      scale0 = first ? p.scale[col] : 0.0f, bias0 = first ? p.bias[col] : 0.0f;
      scale1 = second ? p.scale[col + 1] : 0.0f, bias1 = second ? p.bias[col + 1] : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < kFragsM; ++i)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int local_row = warp_m * kWarpM + i * 16 + group + h * 8;
        const int64_t m = block_m + local_row;
        float v0, v1;
        if constexpr (Fp8) {
          v0 = __fmaf_rn(acc[i][j][2 * h], scale0, bias0);
          v1 = __fmaf_rn(acc[i][j][2 * h + 1], scale1, bias1);
        } else {
          v0 = __fmaf_rn(static_cast<float>(acc[i][j][2 * h]), scale0, bias0);
          v1 = __fmaf_rn(static_cast<float>(acc[i][j][2 * h + 1]), scale1, bias1);
        }
        if (z_kind != ResidualKind::kNone) {
          float z0 = 0.0f, z1 = 0.0f;
          if (z_staged) {
            const uint8_t* z = z_tile + local_row * z_row + local_col * z_bytes;
            if (z_kind == ResidualKind::kF16) {
              const __half2 zz = *reinterpret_cast<const __half2*>(z);
              z0 = __low2float(zz);
              z1 = __high2float(zz);
            } else if (z_kind == ResidualKind::kInt8) {
              int8_pair_to_floats(*reinterpret_cast<const uint16_t*>(z), z0, z1);
            } else {
              e4m3_pair_to_floats(*reinterpret_cast<const uint16_t*>(z), z0, z1);
            }
          } else if (m < pixels) {
            if (first) z0 = residual_at(p, z_kind, m, col);
            if (second) z1 = residual_at(p, z_kind, m, col + 1);
          }
          v0 = add_residual(p, z_kind, v0, z0);
          v1 = add_residual(p, z_kind, v1, z1);
        }
        if (p.relu) {
          v0 = fmaxf(v0, 0.0f);
          v1 = fmaxf(v1, 0.0f);
        }
        uint8_t* out = y_tile + local_row * y_row + local_col * y_bytes;
        switch (y_kind) {
          case IgemmOutput::kInt8:
            *reinterpret_cast<uint16_t*>(out) = static_cast<uint16_t>(pack_byte_pair(
                saturate_round_word(__fmul_rn(v0, p.y_inv_scale)), saturate_round_word(__fmul_rn(v1, p.y_inv_scale))));
            break;
          case IgemmOutput::kFp8:
            *reinterpret_cast<uint16_t*>(out) =
                static_cast<uint16_t>(e4m3_pair_of(__fmul_rn(v0, p.y_inv_scale), __fmul_rn(v1, p.y_inv_scale)));
            break;
          case IgemmOutput::kF16:
            *reinterpret_cast<__half2*>(out) = __floats2half2_rn(v0, v1);  // one packed conversion
            break;
        }
      }
  }
  __syncthreads();

  // Phase 2: the tile to global memory, 16 bytes of one pixel per thread and iteration;
  // consecutive threads take consecutive pieces of a row, so a warp writes whole rows.
  if constexpr (Epi != kEpilogueAny) {  // rows of BN 8-bit or f16 elements, whole 16-byte pieces
    constexpr int kYBytes = output_bytes(fixed_output(Epi, Fp8));
    for_each_piece<BM, BN * kYBytes, kThreads>(tid, [&](int row, int piece) {
      const int64_t m = block_m + row;
      const int col = block_n + piece * (16 / kYBytes);
      if (m < pixels && col < p.k)
        *reinterpret_cast<uint4*>(static_cast<uint8_t*>(p.y) + (m * p.y_stride + col) * kYBytes) =
            *reinterpret_cast<const uint4*>(y_tile + row * y_row + piece * 16);
    });
    return;
  }
  const int chunks_per_row = BN * y_bytes / 16;
  const int per_chunk = 16 / y_bytes;  // channels
  const bool y_vectors = Epi != kEpilogueAny || rows_aligned(p.y, p.y_stride, y_bytes);
  for (int index = tid; index < BM * chunks_per_row; index += kThreads) {
    const int row = index / chunks_per_row, chunk_index = index - (index / chunks_per_row) * chunks_per_row;
    const int64_t m = block_m + row;
    const int col = block_n + chunk_index * per_chunk;
    if (m >= pixels || col >= p.k) continue;
    const uint8_t* src = y_tile + row * y_row + chunk_index * 16;
    uint8_t* dst = static_cast<uint8_t*>(p.y) + (m * p.y_stride + col) * y_bytes;
    if (y_vectors && (Epi != kEpilogueAny || col + per_chunk <= p.k)) {
      *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
    } else {
      const int bytes = (col + per_chunk <= p.k ? per_chunk : p.k - col) * y_bytes;
      for (int e = 0; e < bytes; ++e) dst[e] = src[e];
    }
  }
}

// Launches one instantiation (opted in to its largest shared memory once per device).
template <bool Fp8, bool Wgmma, int BM, int BN, int WM, int WN, int Stages, int MinBlocks, int Epi>
cudaError_t launch_variant(const IgemmConvParams& p, const void* x, const void* w, cudaStream_t stream) {
  // The stage tiles (reused by the output tile), the residual tile if any, and 512 bytes of
  // alignment slack. The opt-in covers the largest (f16 residual).
  constexpr int kFixed = main_smem_bytes(BM, BN, Stages) + params_smem_bytes(BN, Epi);
  constexpr int kMaxSmem = kFixed + BM * epilogue_row_bytes(BN, 2) + 512;
  const int z_smem =
      p.z_kind == ResidualKind::kNone ? 0 : BM * epilogue_row_bytes(BN, residual_bytes(p.z_kind));
  const int smem = kFixed + z_smem + 512;
  auto kernel = igemm_conv_kernel<Fp8, Wgmma, BM, BN, WM, WN, Stages, MinBlocks, Epi>;
  static std::atomic<uint64_t> opted_in{0};
  int device = 0;
  if (const cudaError_t st = cudaGetDevice(&device); st != cudaSuccess) return st;
  if (const cudaError_t st = opt_in_shared_memory(kernel, kMaxSmem, device, opted_in); st != cudaSuccess) return st;
  const int64_t pixels = int64_t(p.n) * p.ho * p.wo;
  const dim3 grid((p.k + BN - 1) / BN, static_cast<unsigned>((pixels + BM - 1) / BM));
  KernelConstants div;
  div.per_image = FastDivisor(static_cast<uint32_t>(p.ho * p.wo));
  div.wo = FastDivisor(static_cast<uint32_t>(p.wo));
  div.s = FastDivisor(static_cast<uint32_t>(p.s));
  div.channel_blocks = FastDivisor(static_cast<uint32_t>((p.c + kBK - 1) / kBK));
  div.taps_per_step = p.c == 16 || p.c == 32 ? kBK / p.c : 1;
  div.unpadded = p.pad_h == 0 && p.pad_w == 0;
  div.pointwise = div.unpadded && p.r == 1 && p.s == 1 && p.stride_h == 1 && p.stride_w == 1 && p.ho == p.h &&
                  p.wo == p.w;
  kernel<<<grid, WM * WN * 32, smem, stream>>>(p, div, static_cast<const uint8_t*>(x), static_cast<const uint8_t*>(w));
  return cudaGetLastError();
}

// The epilogue variant for the parameters: a fixed one where the output (and residual) is of
// the operands' 8-bit type, else the general one.
template <bool Fp8, bool Wgmma, int BM, int BN, int WM, int WN, int Stages, int MinBlocks = 1>
cudaError_t launch(const IgemmConvParams& p, const void* x, const void* w, cudaStream_t stream) {
  // The fixed variants move whole 16-byte pieces of every output (and residual) row.
  // They also stage the scales and biases in 16-byte pieces.
  const bool pieces = p.k % 16 == 0 && aligned16(p.scale) && aligned16(p.bias);
  const bool y_pieces = pieces && p.y_kind == fixed_output(kEpilogue8Bit, Fp8) && rows_aligned(p.y, p.y_stride, 1);
  const bool z_pieces = p.z_kind == fixed_residual(Fp8) && rows_aligned(p.z, p.z_stride, 1);
  if (y_pieces && p.z_kind == ResidualKind::kNone)
    return launch_variant<Fp8, Wgmma, BM, BN, WM, WN, Stages, MinBlocks, kEpilogue8Bit>(p, x, w, stream);
  if (y_pieces && z_pieces)
    return launch_variant<Fp8, Wgmma, BM, BN, WM, WN, Stages, MinBlocks, kEpilogue8BitResidual>(p, x, w, stream);
  if (pieces && z_pieces && p.y_kind == IgemmOutput::kF16 && rows_aligned(p.y, p.y_stride, 2))
    return launch_variant<Fp8, Wgmma, BM, BN, WM, WN, Stages, MinBlocks, kEpilogueF16Residual>(p, x, w, stream);
  return launch_variant<Fp8, Wgmma, BM, BN, WM, WN, Stages, MinBlocks, kEpilogueAny>(p, x, w, stream);
}

// The tiles: name, block shape, warps. Wide tiles for the large early layers, narrow ones
// for few output channels (64) or few pixels (the 7x7 stage at small batches); tiles that
// never won on ResNet-50's shapes on an H200 are left out to bound the build time.
// Stream tiles (stream > 0: output channels per block) run stream_gemm.h's persistent kernel,
// for pointwise convolutions only; the halo tile halo_conv.h's, for 3x3 stride-1 ones; TMA
// tiles (tma_stages > 0: pipeline stages) tma_conv.h's, for 8-bit outputs.
struct TileEntry {
  const char* name;
  int bm, bn;
  bool wgmma;  // needs sm_90a
  cudaError_t (*int8)(const IgemmConvParams&, const void*, const void*, cudaStream_t);
  cudaError_t (*fp8)(const IgemmConvParams&, const void*, const void*, cudaStream_t);
  int stream = 0;
  bool halo = false;
  int tma_stages = 0;
};

const TileEntry kTiles[] = {
    {"128x64", 128, 64, false, launch<false, false, 128, 64, 4, 2, 4>, launch<true, false, 128, 64, 4, 2, 4>},
    {"64x64", 64, 64, false, launch<false, false, 64, 64, 2, 2, 4>, launch<true, false, 64, 64, 2, 2, 4>},
    {"wgmma 128x128", 128, 128, true, launch<false, true, 128, 128, 8, 1, 5, 2>,
     launch<true, true, 128, 128, 8, 1, 5, 2>},
    {"wgmma 128x64", 128, 64, true, launch<false, true, 128, 64, 8, 1, 6>, launch<true, true, 128, 64, 8, 1, 6>},
    // A deeper pipeline (four steps in flight) for the compute-bound deep layers (3x3 and 1x1
    // over 256+ channels at 14x14 and 7x7), whose warps wait mostly on their copies (Nsight
    // Compute, H100, 3x3 256->256 on wgmma 128x128: 47 % tensor pipe, long-scoreboard and
    // barrier stalls first); still two blocks per SM without a residual.
    {"wgmma 128x128 s6", 128, 128, true, launch<false, true, 128, 128, 8, 1, 6, 2>,
     launch<true, true, 128, 128, 8, 1, 6, 2>},
    {"wgmma 64x64", 64, 64, true, launch<false, true, 64, 64, 4, 1, 6>, launch<true, true, 64, 64, 4, 1, 6>},
    // Short pipelines and capped registers: many resident blocks for the memory-bound shapes.
    {"64x64 s2", 64, 64, false, launch<false, false, 64, 64, 2, 2, 2, 6>, launch<true, false, 64, 64, 2, 2, 2, 6>},
    {"64x128 s2", 64, 128, false, launch<false, false, 64, 128, 2, 4, 2, 3>, launch<true, false, 64, 128, 2, 4, 2, 3>},
    {"128x64 s2", 128, 64, false, launch<false, false, 128, 64, 4, 2, 2, 3>, launch<true, false, 128, 64, 4, 2, 2, 3>},
    {"wgmma 64x64 s3", 64, 64, true, launch<false, true, 64, 64, 4, 1, 3, 8>, launch<true, true, 64, 64, 4, 1, 3, 8>},
    {"wgmma 128x64 s3", 128, 64, true, launch<false, true, 128, 64, 8, 1, 3, 4>,
     launch<true, true, 128, 64, 8, 1, 3, 4>},
    {"stream 128x64", 128, 64, true, nullptr, nullptr, 64},
    {"stream 128x128", 128, 128, true, nullptr, nullptr, 128},
    {"halo 128x64", 128, 64, true, nullptr, nullptr, 0, true},
    // Warp-specialized, TMA-fed: for the compute-bound deep layers (see tma_conv.h).
    {"tma 128x128", 128, 128, true, nullptr, nullptr, 0, false, 4},
    {"tma 128x128 s6", 128, 128, true, nullptr, nullptr, 0, false, 6},
    {"tma 128x256", 128, 256, true, nullptr, nullptr, 0, false, 6},
};
constexpr int kTileCount = sizeof(kTiles) / sizeof(kTiles[0]);

// wgmma kernels are built for sm_90a only (the PTX for later GPUs has them empty), so
// they run on compute capability 9.0 devices alone. Cached per device ordinal.
bool device_runs_wgmma() {
  static std::atomic<int> known[64];  // 0 unknown, 1 yes, 2 no
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= 64) return false;
  int state = known[device].load();
  if (state == 0) {
    int major = 0, minor = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
    state = major == 9 && minor == 0 ? 1 : 2;
    known[device].store(state);
  }
  return state == 1;
}

}  // namespace

int igemm_tile_count() { return kTileCount; }

int igemm_tile_index(const std::string& name) {
  for (int i = 0; i < kTileCount; ++i)
    if (name == kTiles[i].name) return i;
  return -1;
}

std::string igemm_tile_name(int tile) {
  return tile >= 0 && tile < kTileCount ? kTiles[tile].name : "tile " + std::to_string(tile);
}

std::string eight_bit_epilogue_unsupported(const IgemmConvParams& p) {
  if (p.y_kind != (p.fp8 ? IgemmOutput::kFp8 : IgemmOutput::kInt8))
    return p.fp8 ? "FP8 operands without an FP8 output" : "not an INT8 output";
  if (p.z_kind != ResidualKind::kNone && p.z_kind != (p.fp8 ? ResidualKind::kFp8 : ResidualKind::kInt8))
    return p.fp8 ? "a residual other than FP8" : "a residual other than INT8";
  return {};
}

std::string igemm_unsupported(const IgemmConvParams& p) {
  if (p.c <= 0 || p.c % 16 != 0) return std::to_string(p.c) + " input channels: not a multiple of 16";
  if (p.k <= 0) return "no output channels";
  if (p.r <= 0 || p.s <= 0 || p.ho <= 0 || p.wo <= 0 || p.n <= 0) return "empty convolution";
  if (p.r > 16 || p.s > 16)  // the kernel keeps a bit per filter row and column
    return std::to_string(p.r) + "x" + std::to_string(p.s) + " filter: larger than 16x16";
  if (int64_t(p.h) * p.w * p.c >= (int64_t(1) << 31))  // offsets within an image are 32-bit
    return "an input image of 2 GiB or more";
  // Windows may reach into the padding only (unpadded convolutions skip the bounds tests).
  if ((p.ho - 1) * p.stride_h + (p.r - 1) * p.dil_h >= p.h + 2 * p.pad_h ||
      (p.wo - 1) * p.stride_w + (p.s - 1) * p.dil_w >= p.w + 2 * p.pad_w)
    return "output size larger than the padded input allows";
  if (p.y_stride < p.k) return "output rows of " + std::to_string(p.y_stride) + " for " + std::to_string(p.k) + " channels";
  if (p.z_kind != ResidualKind::kNone && p.z_stride < p.k)
    return "residual rows of " + std::to_string(p.z_stride) + " for " + std::to_string(p.k) + " channels";
  if (p.fp8 != (p.y_kind == IgemmOutput::kFp8) && p.y_kind != IgemmOutput::kF16)
    return "INT8 operands with an FP8 output or FP8 operands with an INT8 output";
  const int64_t pixels = int64_t(p.n) * p.ho * p.wo;
  if ((pixels + 63) / 64 > 65535) return std::to_string(pixels) + " output pixels: beyond the grid of the smallest tile";
  if (int64_t(p.n) * p.h * p.w * p.c >= (int64_t(1) << 40)) return "input too large";
  return {};
}

std::string igemm_tile_unsupported(const IgemmConvParams& p, int tile) {
  if (tile < 0 || tile >= kTileCount) return "no tile " + std::to_string(tile);
  if (std::string why = igemm_unsupported(p); !why.empty()) return why;
  if (kTiles[tile].stream > 0) {
    if (std::string why = stream_gemm_unsupported(p, kTiles[tile].stream); !why.empty()) return why;
  } else if (kTiles[tile].halo) {
    if (std::string why = halo_conv_unsupported(p); !why.empty()) return why;
  } else if (kTiles[tile].tma_stages > 0) {
    if (std::string why = tma_conv_unsupported(p); !why.empty()) return why;
  } else if ((int64_t(p.n) * p.ho * p.wo + kTiles[tile].bm - 1) / kTiles[tile].bm > 65535) {
    return "more pixel tiles than a grid holds";
  }
  if (kTiles[tile].wgmma && !device_runs_wgmma()) return "wgmma tiles run on compute capability 9.0 only";
  return {};
}

cudaError_t igemm_conv(const IgemmConvParams& p, int tile, const void* x, const void* w, cudaStream_t stream) {
  if (tile < 0 || tile >= kTileCount || !igemm_unsupported(p).empty()) return cudaErrorInvalidValue;
  if (!igemm_tile_unsupported(p, tile).empty()) return cudaErrorNotSupported;
  if (kTiles[tile].stream > 0) return stream_gemm(p, kTiles[tile].stream, x, w, stream);
  if (kTiles[tile].halo) return halo_conv(p, x, w, stream);
  if (kTiles[tile].tma_stages > 0) return tma_conv(p, kTiles[tile].bn, kTiles[tile].tma_stages, x, w, stream);
  return p.fp8 ? kTiles[tile].fp8(p, x, w, stream) : kTiles[tile].int8(p, x, w, stream);
}

}  // namespace kiln::cuda::int8
