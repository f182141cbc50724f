#include "backends/cuda/int8/tma_conv.h"

#include "backends/cuda/int8/igemm_conv.h"
#include "backends/cuda/int8/igemm_device.cuh"
#include "backends/cuda/int8/wgmma_ops.cuh"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>

#include <cuda.h>
#include <cudaTypedefs.h>

namespace kiln::cuda::int8 {

namespace {

using namespace device;

constexpr int kBM = 128;                   // output pixels per tile: two consumer warpgroups of 64 rows
constexpr int kConsumers = 256;            // warps 0-7: wgmma's and finish_8bit_tile's row layout
constexpr int kThreads = kConsumers + 32;  // warp 8: the producer
// A stage: the tile's A rows then its BN B rows, [rows][64 bytes] swizzled.
__host__ __device__ constexpr int stage_bytes(int bn) { return (kBM + bn) * kBK; }

// Shared memory from a 512-byte boundary (the wgmma and TMA 64-byte swizzles are functions of
// the address): the stages, the output tile, the tile's scales and biases, the stages' "full"
// and "empty" mbarriers, the residual tile. The output tile has its own space (not the
// stages') because the producer fills the next tile's stages while the consumers finish one.
struct TmaLayout {
  int y, params, barriers, z, total;
};
__host__ __device__ constexpr TmaLayout tma_layout(int bn, int stages, bool residual) {
  TmaLayout l{};
  l.y = stages * stage_bytes(bn);
  l.params = align512(l.y + kBM * padded_row(bn));
  l.barriers = l.params + 2 * bn * 4;
  l.z = l.barriers + align512(2 * stages * 8);
  l.total = l.z + (residual ? kBM * padded_row(bn) : 0);
  return l;
}

// mbarrier and TMA instructions (sm_90). Parities: a barrier's phase k completes with parity
// k & 1; waiting on parity p returns once the phase of that parity has completed.
__device__ __forceinline__ void barrier_init(uint32_t bar, int count) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
#endif
}
// Makes the initialized barriers visible to the TMA unit (the async proxy) and other threads.
__device__ __forceinline__ void fence_barrier_init() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("fence.mbarrier_init.release.cluster;\nfence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
// One arrival that also expects `bytes` of copies to complete on the barrier.
__device__ __forceinline__ void barrier_expect_bytes(uint32_t bar, uint32_t bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
#endif
}
__device__ __forceinline__ void barrier_arrive(uint32_t bar) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
#endif
}
__device__ __forceinline__ void barrier_wait(uint32_t bar, uint32_t parity) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile(
      "{\n.reg .pred done;\n"
      "KILN_TMA_WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra KILN_TMA_WAIT;\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
#endif
}
// The im2col rows of 128 output pixels for one filter tap: `map`'s pixelsPerColumn pixels
// from window corner (w, h) of image n on, shifted by the tap (off_w, off_h), channels
// [c, c + 64); zeros where that falls in the padding or past the last image.
__device__ __forceinline__ void load_im2col(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c, int w, int h,
                                            int n, uint16_t off_w, uint16_t off_h) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.im2col.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, "
      "%5}], [%6], {%7, %8};\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c), "r"(w), "r"(h), "r"(n), "r"(bar), "h"(off_w), "h"(off_h)
      : "memory");
#endif
}
// A box of a 3-D tiled map (here: 64 bytes of one tap of BN filters).
__device__ __forceinline__ void load_box(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1, int c2) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], "
      "[%5];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
#endif
}
// A barrier of the consumer warps alone (the producer warp may have left).
__device__ __forceinline__ void consumers_sync() { asm volatile("bar.sync 1, %0;\n" ::"n"(kConsumers) : "memory"); }

// Persistent: thread block b computes the 128 x BN output tiles b, b + gridDim.x, ... (tile t:
// pixels [t / n_tiles * 128, +128), channels [t % n_tiles * BN, +BN); channels vary fastest,
// so the blocks running together read the same pixels, through L2). Warp 8 is the producer:
// one thread walks every tile's reduction steps (filter tap, 64-byte channel block) through
// the ring of stages, waiting for a stage's "empty" barrier, then issuing its two TMA copies
// onto its "full" barrier; it runs ahead into the next tile while the consumers finish one.
// Warps 0-7 are the consumers: per step they wait for the stage's full barrier, issue their
// warpgroup's two wgmmas (64 rows each), and once the step before has completed (wgmma wait
// 1) free that step's stage; then they finish the tile (epilogue) and store it. A tile's
// scales, biases and residual rows are fetched by the consumers before its main loop and
// waited for after it.
// BN 128: two blocks per SM where shared memory allows (4 stages), registers capped for it.
// BN 256: one block per SM (128 f32 sums per thread); each warpgroup's wgmma reads its A rows
// once per 256 output channels instead of 128, which cuts the shared-memory reads per product
// (with the TMA's writes, what bounds the 128-channel tile) by a sixth.
template <bool Fp8, int BN, int Stages, bool Residual>
__global__ void __launch_bounds__(kThreads, BN == 128 ? 2 : 1)
    tma_conv_kernel(const __grid_constant__ CUtensorMap a_map, const __grid_constant__ CUtensorMap b_map,
                    const IgemmConvParams p, FastDivisor per_image, FastDivisor wo, FastDivisor n_tiles, int tiles) {
  static_assert(BN == 128 || BN == 256, "wgmma wrappers for n128 and n256");
  constexpr TmaLayout L = tma_layout(BN, Stages, Residual);
  constexpr int kStageBytes = stage_bytes(BN);
  extern __shared__ __align__(128) uint8_t smem_raw[];
  uint8_t* const smem = smem_raw + ((512 - (shared_address(smem_raw) & 511)) & 511);
  const uint32_t base = shared_address(smem);
  const uint32_t full = base + L.barriers, empty = full + Stages * 8;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int pixels = p.n * p.ho * p.wo;  // tma_conv_unsupported keeps it below 2^31
  const int channel_blocks = (p.c + kBK - 1) / kBK;
  const int steps = p.r * p.s * channel_blocks;

  if (tid == 0) {
    for (int s = 0; s < Stages; ++s) {
      barrier_init(full + 8 * s, 1);                 // the producer's expect_tx arrival
      barrier_init(empty + 8 * s, kConsumers / 32);  // one arrival per consumer warp
    }
    fence_barrier_init();
  }
  __syncthreads();

  if (warp == kConsumers / 32) {
    if (lane != 0) return;
    int it = 0;  // steps issued over all tiles: the ring position
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
      const int m_tile = n_tiles.div(tile), block_n = (tile - m_tile * int(n_tiles.divisor)) * BN;
      // The tile's first output pixel, and its window's top-left input pixel (in the padding
      // at the borders): the im2col copies walk on from there, pixel by pixel.
      const int block_m = m_tile * kBM;
      const int img = per_image.div(block_m), rem = block_m - img * int(per_image.divisor);
      const int oh = wo.div(rem), ow = rem - oh * p.wo;
      const int h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
      int cb = 0, tr = 0, ts = 0;  // the step's channel block and filter tap
      for (int step = 0; step < steps; ++step, ++it) {
        const int stage = it % Stages;
        if (it >= Stages) barrier_wait(empty + 8 * stage, ((it / Stages) - 1) & 1);
        const uint32_t a = base + stage * kStageBytes, bar = full + 8 * stage;
        barrier_expect_bytes(bar, kStageBytes);
        load_im2col(a, &a_map, bar, cb * kBK, w0, h0, img, static_cast<uint16_t>(ts * p.dil_w),
                    static_cast<uint16_t>(tr * p.dil_h));
        load_box(a + kBM * kBK, &b_map, bar, cb * kBK, tr * p.s + ts, block_n);
        if (++cb == channel_blocks) {
          cb = 0;
          if (++ts == p.s) ts = 0, ++tr;
        }
      }
    }
    return;
  }

  float* const params = reinterpret_cast<float*>(smem + L.params);  // [scale | bias][BN]
  uint8_t* const z_tile = smem + L.z;
  uint8_t* const y_tile = smem + L.y;
  constexpr int kVectorPieces = BN / 4;  // 16-byte pieces of one per-channel vector
  constexpr int kRowPieces = BN / 16;    // 16-byte pieces of an 8-bit output or residual row
  using Acc = std::conditional_t<Fp8, float, int>;  // f32 sums of E4M3 products, int32 of INT8 ones
  Acc acc[BN / 2];
  const uint32_t a_rows = (warp / 4) * 64 * kBK;  // this warpgroup's 64 rows of A
  int it = 0;
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int m_tile = n_tiles.div(tile), block_n = (tile - m_tile * int(n_tiles.divisor)) * BN;
    const int block_m = m_tile * kBM;
    if (tid < 2 * kVectorPieces) {
      const int col = block_n + (tid % kVectorPieces) * 4;
      copy16_async(shared_address(params + tid * 4), (tid < kVectorPieces ? p.scale : p.bias) + col, col < p.k);
    }
    if constexpr (Residual) {
#pragma unroll
      for (int index = tid; index < kBM * kRowPieces; index += kConsumers) {
        const int row = index / kRowPieces, col = block_n + (index % kRowPieces) * 16;
        const bool ok = block_m + row < pixels && col < p.k;
        copy16_async(shared_address(z_tile + row * padded_row(BN) + (index % kRowPieces) * 16),
                     static_cast<const uint8_t*>(p.z) + (ok ? int64_t(block_m + row) * p.z_stride + col : 0), ok);
      }
    }
    commit_async();

#pragma unroll
    for (int e = 0; e < BN / 2; ++e) acc[e] = Acc(0);
    for (int step = 0; step < steps; ++step, ++it) {
      const int stage = it % Stages;
      barrier_wait(full + 8 * stage, (it / Stages) & 1);
      const uint32_t a = base + stage * kStageBytes;
      const uint64_t a_desc = wgmma::descriptor(a + a_rows), b_desc = wgmma::descriptor(a + kBM * kBK);
      wgmma::fence_operands(acc);
      wgmma::fence();
      wgmma::Mma<Fp8, BN>::run(acc, a_desc, b_desc, 1);
      wgmma::Mma<Fp8, BN>::run(acc, a_desc + 2, b_desc + 2, 1);  // the second k32, 32 bytes on
      wgmma::commit();
      wgmma::wait<1>();  // the step before has completed: its stage may be refilled
      wgmma::fence_operands(acc);
      if (step > 0 && lane == 0) barrier_arrive(empty + 8 * ((it - 1) % Stages));
    }
    wgmma::wait<0>();
    wgmma::fence_operands(acc);
    if (lane == 0) barrier_arrive(empty + 8 * ((it - 1) % Stages));  // the tile's last stage
    wait_async<0>();   // this thread's epilogue pieces have landed ...
    consumers_sync();  // ... everyone's

    finish_8bit_tile<Fp8, BN, Residual>(acc, params, z_tile, y_tile, p.z_scale, p.relu, p.y_inv_scale, warp, lane);
    consumers_sync();  // the output tile is whole; the scales and residual rows may be refilled
#pragma unroll
    for (int index = tid; index < kBM * kRowPieces; index += kConsumers) {
      const int row = index / kRowPieces, piece = index % kRowPieces, col = block_n + piece * 16;
      if (block_m + row < pixels && col < p.k)
        *reinterpret_cast<uint4*>(static_cast<uint8_t*>(p.y) + int64_t(block_m + row) * p.y_stride + col) =
            *reinterpret_cast<const uint4*>(y_tile + row * padded_row(BN) + piece * 16);
    }
  }
}

// The corners of the im2col box (W, H) in the tensor map's terms: lower, the first window
// start (minus the padding); upper, one past the last window start as an offset from the
// image's width (height). The TMA walks window starts from lower to w + upper in steps of
// the stride, then wraps to the next row (image).
struct Im2colBox {
  int lower[2], upper[2];
};
Im2colBox im2col_box(const IgemmConvParams& p) {
  return {{-p.pad_w, -p.pad_h},
          {(p.wo - 1) * p.stride_w - p.pad_w + 1 - p.w, (p.ho - 1) * p.stride_h - p.pad_h + 1 - p.h}};
}

// The driver's tensor-map encoders, through the runtime (no link against libcuda).
struct Encoders {
  PFN_cuTensorMapEncodeIm2col_v12000 im2col = nullptr;
  PFN_cuTensorMapEncodeTiled_v12000 tiled = nullptr;
};
const Encoders& encoders() {
  static const Encoders e = [] {
    Encoders out;
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeIm2col", &fn, 12000, cudaEnableDefault, &found) ==
            cudaSuccess &&
        found == cudaDriverEntryPointSuccess)
      out.im2col = reinterpret_cast<PFN_cuTensorMapEncodeIm2col_v12000>(fn);
    fn = nullptr;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found) ==
            cudaSuccess &&
        found == cudaDriverEntryPointSuccess)
      out.tiled = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
    return out;
  }();
  return e;
}

// x as [n][h][w][c] bytes, read in im2col boxes of 128 pixels x 64 bytes.
bool encode_input_map(CUtensorMap& map, const IgemmConvParams& p, const void* x) {
  const Im2colBox box = im2col_box(p);
  const cuuint64_t dims[4] = {cuuint64_t(p.c), cuuint64_t(p.w), cuuint64_t(p.h), cuuint64_t(p.n)};
  const cuuint64_t strides[3] = {cuuint64_t(p.c), cuuint64_t(p.w) * p.c, cuuint64_t(p.h) * p.w * p.c};
  const cuuint32_t element_strides[4] = {1, cuuint32_t(p.stride_w), cuuint32_t(p.stride_h), 1};
  return encoders().im2col(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 4, const_cast<void*>(x), dims, strides, box.lower,
                           box.upper, kBK, kBM, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                           CU_TENSOR_MAP_SWIZZLE_64B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                           CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// w as [k][r*s][c] bytes (filters past k read as zeros), in boxes of bn filters x 64 bytes of
// one tap.
bool encode_filter_map(CUtensorMap& map, const IgemmConvParams& p, int bn, const void* w) {
  const cuuint64_t dims[3] = {cuuint64_t(p.c), cuuint64_t(p.r) * p.s, cuuint64_t(p.k)};
  const cuuint64_t strides[2] = {cuuint64_t(p.c), cuuint64_t(p.r) * p.s * p.c};
  const cuuint32_t box[3] = {kBK, 1, cuuint32_t(bn)};
  const cuuint32_t element_strides[3] = {1, 1, 1};
  return encoders().tiled(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 3, const_cast<void*>(w), dims, strides, box,
                          element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_64B,
                          CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <bool Fp8, int BN, int Stages, bool Residual>
cudaError_t launch(const IgemmConvParams& p, const CUtensorMap& a_map, const CUtensorMap& b_map,
                   cudaStream_t stream) {
  auto kernel = tma_conv_kernel<Fp8, BN, Stages, Residual>;
  constexpr int kSmem = tma_layout(BN, Stages, Residual).total + 512;  // + alignment slack
  int device = 0;
  if (const cudaError_t st = cudaGetDevice(&device); st != cudaSuccess) return st;
  static std::atomic<uint64_t> opted_in{0};
  if (const cudaError_t st = opt_in_shared_memory(kernel, kSmem, device, opted_in); st != cudaSuccess) return st;
  // The grid is one wave of resident blocks (or fewer tiles).
  static std::atomic<int> resident[64];
  const int blocks = cached_resident_blocks(kernel, kThreads, kSmem, device, resident);
  const int n_tiles = (p.k + BN - 1) / BN;
  const int tiles = (p.n * p.ho * p.wo + kBM - 1) / kBM * n_tiles;
  kernel<<<std::min(tiles, blocks), kThreads, kSmem, stream>>>(
      a_map, b_map, p, FastDivisor(static_cast<uint32_t>(p.ho * p.wo)), FastDivisor(static_cast<uint32_t>(p.wo)),
      FastDivisor(static_cast<uint32_t>(n_tiles)), tiles);
  return cudaGetLastError();
}

template <bool Fp8, int BN, int Stages>
cudaError_t with_residual(const IgemmConvParams& p, const CUtensorMap& a_map, const CUtensorMap& b_map,
                          cudaStream_t stream) {
  return p.z_kind == ResidualKind::kNone ? launch<Fp8, BN, Stages, false>(p, a_map, b_map, stream)
                                         : launch<Fp8, BN, Stages, true>(p, a_map, b_map, stream);
}

// The compiled shapes: 128 x 128 with 4 or 6 stages, 128 x 256 with 6.
template <bool Fp8>
cudaError_t dispatch(const IgemmConvParams& p, int bn, int stages, const CUtensorMap& a_map,
                     const CUtensorMap& b_map, cudaStream_t stream) {
  if (bn == 256) return with_residual<Fp8, 256, 6>(p, a_map, b_map, stream);
  if (stages == 4) return with_residual<Fp8, 128, 4>(p, a_map, b_map, stream);
  return with_residual<Fp8, 128, 6>(p, a_map, b_map, stream);
}

}  // namespace

std::string tma_conv_unsupported(const IgemmConvParams& p) {
  if (std::string why = eight_bit_epilogue_unsupported(p); !why.empty()) return why;
  if (p.k <= 0 || p.k % 16 != 0) return std::to_string(p.k) + " output channels: not a multiple of 16";
  if (p.c <= 0 || p.c % 16 != 0) return std::to_string(p.c) + " input channels: not a multiple of 16";
  if (p.stride_h < 1 || p.stride_w < 1 || p.stride_h > 8 || p.stride_w > 8) return "a stride above 8";
  if ((p.r - 1) * p.dil_h > 65535 || (p.s - 1) * p.dil_w > 65535) return "filter offsets beyond 16 bits";
  const Im2colBox box = im2col_box(p);
  for (int d = 0; d < 2; ++d)
    if (box.lower[d] < -128 || box.lower[d] > 127 || box.upper[d] < -128 || box.upper[d] > 127)
      return "a window geometry beyond the TMA's im2col box (corners within [-128, 127])";
  if (int64_t(p.n) * p.ho * p.wo >= (int64_t(1) << 31) - kBM) return "2^31 output pixels or more";
  if ((int64_t(p.n) * p.ho * p.wo + kBM - 1) / kBM * ((p.k + 127) / 128) >= (int64_t(1) << 31))
    return "2^31 tiles or more";
  if (!aligned16(p.scale) || !aligned16(p.bias)) return "scales or biases not 16-byte aligned";
  if (!aligned16(p.y) || p.y_stride % 16 != 0) return "output rows not in 16-byte pieces";
  if (p.z_kind != ResidualKind::kNone && (!aligned16(p.z) || p.z_stride % 16 != 0))
    return "residual rows not in 16-byte pieces";
  if (!encoders().im2col || !encoders().tiled) return "the driver has no tensor-map encoder";
  return {};
}

cudaError_t tma_conv(const IgemmConvParams& p, int bn, int stages, const void* x, const void* w,
                     cudaStream_t stream) {
  const bool compiled = (bn == 128 && (stages == 4 || stages == 6)) || (bn == 256 && stages == 6);
  if (!compiled || !tma_conv_unsupported(p).empty() || !aligned16(x) || !aligned16(w)) return cudaErrorInvalidValue;
  CUtensorMap a_map, b_map;
  if (!encode_input_map(a_map, p, x) || !encode_filter_map(b_map, p, bn, w)) return cudaErrorInvalidValue;
  return p.fp8 ? dispatch<true>(p, bn, stages, a_map, b_map, stream)
               : dispatch<false>(p, bn, stages, a_map, b_map, stream);
}

}  // namespace kiln::cuda::int8
