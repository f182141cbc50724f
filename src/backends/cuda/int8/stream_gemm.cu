#include "backends/cuda/int8/stream_gemm.h"

#include "backends/cuda/int8/igemm_conv.h"
#include "backends/cuda/int8/igemm_device.cuh"
#include "backends/cuda/int8/wgmma_ops.cuh"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>

namespace kiln::cuda::int8 {

namespace {

using namespace device;

constexpr int kBM = 128;  // pixels per tile: two warpgroups of 64 rows
constexpr int kThreads = 256;
constexpr int kStages = 2;  // the tile being computed and the next one in flight

// Shared memory of one thread block, in bytes from a 512-byte boundary (the wgmma swizzle
// is a function of the address): the filters (C/64 tiles of [BN][64 bytes]) and the
// per-channel scales and biases, loaded once; two stages, each the tile's input rows
// (C/64 tiles of [128][64 bytes]) and residual rows if any ([128][BN + 16]); the output tile
// ([128][BN + 16]; the 16-byte pad puts the rows a warp writes on distinct banks).
struct StreamLayout {
  int params, stage, stage_bytes, a_bytes, y, total;
};
__host__ __device__ constexpr StreamLayout stream_layout(int bn, int c, bool residual) {
  StreamLayout l{};
  l.params = bn * c;
  l.stage = align512(l.params + 2 * bn * 4);
  l.a_bytes = kBM * c;
  l.stage_bytes = align512(l.a_bytes + (residual ? kBM * padded_row(bn) : 0));
  l.y = l.stage + kStages * l.stage_bytes;
  l.total = l.y + kBM * padded_row(bn);
  return l;
}

// One thread block computes output channels [blockIdx.x * BN, +BN) of the 128-pixel tiles
// blockIdx.y, blockIdx.y + gridDim.y, ... Per tile: the next tile's copies are issued, this
// tile's wait; each warpgroup multiplies its 64 rows (wgmma, C/64 x 2 steps of k32); each
// thread finishes its accumulators into the output tile; the tile goes out in 16-byte
// stores. Every copy address is the tile's base plus a per-thread constant.
template <bool Fp8, int BN, int C, bool Residual, int MinBlocks>
__global__ void __launch_bounds__(kThreads, MinBlocks)
    stream_gemm_kernel(IgemmConvParams p, int tiles, const uint8_t* __restrict__ x, const uint8_t* __restrict__ w) {
  constexpr StreamLayout L = stream_layout(BN, C, Residual);
  constexpr int kRowPieces = C / 16;                      // 16-byte pieces of an input row
  constexpr int kACopies = kBM * kRowPieces / kThreads;   // per thread and tile
  constexpr int kBCopies = BN * kRowPieces / kThreads;    // per thread, once
  constexpr int kOutPieces = BN / 16;                     // 16-byte pieces of an output row
  constexpr int kOutCopies = kBM * kOutPieces / kThreads;  // per thread and tile
  constexpr int kFragsN = BN / 8;
  static_assert(kACopies >= 1 && kBCopies >= 1 && kOutCopies >= 1, "whole copies per thread");

  extern __shared__ __align__(128) uint8_t smem_raw[];
  uint8_t* const smem = smem_raw + ((512 - (shared_address(smem_raw) & 511)) & 511);
  const uint32_t smem_base = shared_address(smem);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int n0 = blockIdx.x * BN;
  const int pixels = p.n * p.h * p.w;  // stream_gemm_unsupported keeps it below 2^31

  // Filters and per-channel vectors, once (they land with the first tile's group).
#pragma unroll
  for (int j = 0; j < kBCopies; ++j) {
    const int index = tid + j * kThreads, row = index / kRowPieces, piece = index % kRowPieces;
    copy16_async(smem_base + (piece / 4) * BN * kBK + tile_offset(row, piece % 4), w + (n0 + row) * C + piece * 16,
                 true);
  }
  if (tid < 2 * BN / 4) {
    const float* src = (tid < BN / 4 ? p.scale + n0 + tid * 4 : p.bias + n0 + (tid - BN / 4) * 4);
    copy16_async(smem_base + L.params + tid * 16, src, true);
  }

  // This thread's copies of a tile: input row/piece and residual row/piece, as offsets.
  auto load_tile = [&](int tile, int stage) {
    const int m0 = tile * kBM;
    const uint8_t* xt = x + int64_t(m0) * C;
    const uint32_t st = smem_base + L.stage + stage * L.stage_bytes;
#pragma unroll
    for (int j = 0; j < kACopies; ++j) {
      const int index = tid + j * kThreads, row = index / kRowPieces, piece = index % kRowPieces;
      copy16_async(st + (piece / 4) * kBM * kBK + tile_offset(row, piece % 4), xt + row * C + piece * 16,
                   m0 + row < pixels);
    }
    if constexpr (Residual) {
      const uint8_t* zt = static_cast<const uint8_t*>(p.z) + int64_t(m0) * p.z_stride + n0;
#pragma unroll
      for (int j = 0; j < kOutCopies; ++j) {
        const int index = tid + j * kThreads, row = index / kOutPieces, piece = index % kOutPieces;
        copy16_async(st + L.a_bytes + row * padded_row(BN) + piece * 16, zt + row * p.z_stride + piece * 16,
                     m0 + row < pixels);
      }
    }
  };

  int tile = blockIdx.y;
  load_tile(tile, 0);
  commit_async();

  using Acc = std::conditional_t<Fp8, float, int>;  // f32 sums of E4M3 products, int32 of INT8 ones
  Acc acc[kFragsN * 4];
#pragma unroll
  for (int e = 0; e < kFragsN * 4; ++e) acc[e] = Acc(0);
  const float* params = reinterpret_cast<const float*>(smem + L.params);  // [scale | bias][BN]
  uint8_t* const y_tile = smem + L.y;

  for (int i = 0; tile < tiles; ++i, tile += gridDim.y) {
    const int next = tile + gridDim.y;
    if (next < tiles) load_tile(next, (i + 1) & 1);
    commit_async();
    wait_async<1>();                 // this tile's group has landed (for this thread) ...
    wgmma::fence_async_shared();     // ... visible to wgmma's reads ...
    __syncthreads();                 // ... for every thread

    const int stage = i & 1;
    const uint32_t a_tile = smem_base + L.stage + stage * L.stage_bytes + (warp / 4) * 64 * kBK;
    wgmma::fence_operands(acc);
    wgmma::fence();
#pragma unroll
    for (int q = 0; q < C / 64; ++q) {
      const uint64_t a_desc = wgmma::descriptor(a_tile + q * kBM * kBK);
      const uint64_t b_desc = wgmma::descriptor(smem_base + q * BN * kBK);
      wgmma::Mma<Fp8, BN>::run(acc, a_desc, b_desc, q > 0);
      wgmma::Mma<Fp8, BN>::run(acc, a_desc + 2, b_desc + 2, 1);
    }
    wgmma::commit();
    wgmma::wait<0>();
    wgmma::fence_operands(acc);

    finish_8bit_tile<Fp8, BN, Residual>(acc, params, smem + L.stage + stage * L.stage_bytes + L.a_bytes, y_tile,
                                        p.z_scale, p.relu, p.y_inv_scale, warp, lane);
    __syncthreads();  // the output tile is whole; this stage's reads are done

    const int m0 = tile * kBM;
    uint8_t* const yt = static_cast<uint8_t*>(p.y) + int64_t(m0) * p.y_stride + n0;
#pragma unroll
    for (int j = 0; j < kOutCopies; ++j) {
      const int index = tid + j * kThreads, row = index / kOutPieces, piece = index % kOutPieces;
      if (m0 + row < pixels)
        *reinterpret_cast<uint4*>(yt + row * p.y_stride + piece * 16) =
            *reinterpret_cast<const uint4*>(y_tile + row * padded_row(BN) + piece * 16);
    }
  }
  wait_async<0>();
}

template <bool Fp8, int BN, int C, bool Residual>
cudaError_t launch(const IgemmConvParams& p, const void* x, const void* w, cudaStream_t stream) {
  // Blocks per SM the register budget aims at (shared memory allows about as many): one for
  // the largest tiles, where more would spill.
  constexpr int kMinBlocks = C >= 512 || (BN == 128 && C >= 256) ? 1 : BN == 64 && C <= 128 ? 3 : 2;
  auto kernel = stream_gemm_kernel<Fp8, BN, C, Residual, kMinBlocks>;
  constexpr int kSmem = stream_layout(BN, C, Residual).total + 512;
  int device = 0;
  if (const cudaError_t st = cudaGetDevice(&device); st != cudaSuccess) return st;
  static std::atomic<uint64_t> opted_in{0};
  if (const cudaError_t st = opt_in_shared_memory(kernel, kSmem, device, opted_in); st != cudaSuccess) return st;
  // The grid is one wave of resident blocks.
  static std::atomic<int> resident[64];
  const int blocks = cached_resident_blocks(kernel, kThreads, kSmem, device, resident);
  const int tiles = static_cast<int>((int64_t(p.n) * p.h * p.w + kBM - 1) / kBM);
  const int columns = p.k / BN;
  const int rows = std::max(1, std::min(tiles, blocks / columns));
  kernel<<<dim3(columns, rows), kThreads, kSmem, stream>>>(p, tiles, static_cast<const uint8_t*>(x),
                                                           static_cast<const uint8_t*>(w));
  return cudaGetLastError();
}

template <bool Fp8, int BN, bool Residual>
cudaError_t launch_for_channels(const IgemmConvParams& p, const void* x, const void* w, cudaStream_t stream) {
  switch (p.c) {
    case 64: return launch<Fp8, BN, 64, Residual>(p, x, w, stream);
    case 128: return launch<Fp8, BN, 128, Residual>(p, x, w, stream);
    case 256: return launch<Fp8, BN, 256, Residual>(p, x, w, stream);
    case 512: return launch<Fp8, BN, 512, Residual>(p, x, w, stream);
    default: return cudaErrorInvalidValue;
  }
}

template <bool Fp8>
cudaError_t dispatch(const IgemmConvParams& p, int bn, const void* x, const void* w, cudaStream_t stream) {
  const bool residual = p.z_kind != ResidualKind::kNone;
  if (bn == 64)
    return residual ? launch_for_channels<Fp8, 64, true>(p, x, w, stream)
                    : launch_for_channels<Fp8, 64, false>(p, x, w, stream);
  return residual ? launch_for_channels<Fp8, 128, true>(p, x, w, stream)
                  : launch_for_channels<Fp8, 128, false>(p, x, w, stream);
}

}  // namespace

std::string stream_gemm_unsupported(const IgemmConvParams& p, int bn) {
  if (bn != 64 && bn != 128) return "no stream tile with " + std::to_string(bn) + " output channels";
  if (std::string why = eight_bit_epilogue_unsupported(p); !why.empty()) return why;
  if (p.r != 1 || p.s != 1 || p.stride_h != 1 || p.stride_w != 1 || p.pad_h != 0 || p.pad_w != 0 || p.ho != p.h ||
      p.wo != p.w)
    return "not a pointwise (1x1, stride 1, unpadded) convolution";
  if (p.c != 64 && p.c != 128 && p.c != 256 && p.c != 512)
    return std::to_string(p.c) + " input channels: not 64, 128, 256 or 512";
  if (stream_layout(bn, p.c, p.z_kind != ResidualKind::kNone).total + 512 > 227 * 1024)
    return "filters and tiles beyond shared memory";
  if (p.k <= 0 || p.k % bn != 0) return std::to_string(p.k) + " output channels: not a multiple of " + std::to_string(bn);
  if (int64_t(p.n) * p.h * p.w >= (int64_t(1) << 31) - kBM) return "2^31 output pixels or more";
  if (!aligned16(p.scale) || !aligned16(p.bias)) return "scales or biases not 16-byte aligned";
  if (!aligned16(p.y) || p.y_stride % 16 != 0) return "output rows not in 16-byte pieces";
  if (p.z_kind != ResidualKind::kNone && (!aligned16(p.z) || p.z_stride % 16 != 0))
    return "residual rows not in 16-byte pieces";
  return {};
}

cudaError_t stream_gemm(const IgemmConvParams& p, int bn, const void* x, const void* w, cudaStream_t stream) {
  if (!stream_gemm_unsupported(p, bn).empty() || !aligned16(x) || !aligned16(w)) return cudaErrorInvalidValue;
  return p.fp8 ? dispatch<true>(p, bn, x, w, stream) : dispatch<false>(p, bn, x, w, stream);
}

}  // namespace kiln::cuda::int8
