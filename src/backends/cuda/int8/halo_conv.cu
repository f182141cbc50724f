#include "backends/cuda/int8/halo_conv.h"

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

constexpr int kBM = 128;  // outputs (padded-image positions) per tile: two warpgroups of 64
constexpr int kBN = 64;   // output channels per thread block
constexpr int kThreads = 256;
// The two geometries: 3x3 with padding 1 over 64 or 128 channels, and the 4x4 unpadded
// convolution over the 16-channel space-to-depth image that a stride-2 RGB stem becomes
// (quant/space_to_depth.h), whose 16-byte pixels put two filter taps in each 32-byte k step.
__host__ __device__ constexpr int filter_size(int c) { return c == 16 ? 4 : 3; }
__host__ __device__ constexpr int padding(int c) { return c == 16 ? 0 : 1; }

// What the kernel takes besides the parameters: the padded geometry and where things are in
// shared memory (from a 512-byte boundary: the wgmma swizzle is a function of the address).
//  - filters: their rows of R*S*C bytes cut into 64-byte tiles of [64 channels][64 bytes]
//    (swizzled; tile t holds bytes [64t, 64t + 64) of every row), then the block's scales and
//    biases; loaded once;
//  - two stages, each the halo tile and the residual rows if any ([128][64 + 16]). The halo
//    holds halo_rows padded input pixels: C/64 blocks of [halo_rows][64 bytes] swizzled by
//    row, or for 16 channels plain [halo_rows][16 bytes];
//  - the output tile ([128][64 + 16]).
struct HaloConstants {
  FastDivisor padded_image, padded_w;  // (h + 2 pad) (w + 2 pad) and w + 2 pad
  int virtual_pixels = 0;              // n (h + 2 pad) (w + 2 pad): outputs numbered over the padded images
  int tiles = 0;
  int halo_rows = 0;  // 128 + (r - 1) (w + 2 pad) + r - 1, rounded up to 8
  int params = 0, stage = 0, stage_bytes = 0, z = 0, y = 0, total = 0;
};

HaloConstants halo_constants(const IgemmConvParams& p) {
  HaloConstants k;
  const int pad = padding(p.c), r = filter_size(p.c);
  const int pw = p.w + 2 * pad, per_image = (p.h + 2 * pad) * pw;
  k.padded_image = FastDivisor(static_cast<uint32_t>(per_image));
  k.padded_w = FastDivisor(static_cast<uint32_t>(pw));
  k.virtual_pixels = p.n * per_image;
  k.tiles = (k.virtual_pixels + kBM - 1) / kBM;
  k.halo_rows = (kBM + (r - 1) * pw + r - 1 + 7) / 8 * 8;
  k.params = r * r * p.c * kBN;
  k.stage = align512(k.params + 2 * kBN * 4);
  k.z = align512(k.halo_rows * p.c);
  const bool residual = p.z_kind != ResidualKind::kNone;
  k.stage_bytes = align512(k.z + (residual ? kBM * padded_row(kBN) : 0));
  k.y = k.stage + 2 * k.stage_bytes;
  k.total = k.y + kBM * padded_row(kBN) + 512;  // + alignment slack
  return k;
}

// Output (padded position) v of the tile: image, row and column, and whether it is a real
// output (not in the padding rows or columns or past the last valid window, not past the last
// image); `m` its output row.
struct Position {
  bool real;
  int64_t m;
};
__device__ __forceinline__ Position position_of(const IgemmConvParams& p, const HaloConstants& k, int v) {
  const int img = k.padded_image.div(v), rem = v - img * int(k.padded_image.divisor);
  const int y = k.padded_w.div(rem), x = rem - y * int(k.padded_w.divisor);
  return {v < k.virtual_pixels && y < p.ho && x < p.wo, (int64_t(img) * p.ho + y) * p.wo + x};
}

// One thread block computes output channels [blockIdx.x * 64, +64) of the tiles blockIdx.y,
// blockIdx.y + gridDim.y, ... as stream_gemm.cu does, each tile from its halo: for filter row
// r, the warps load the A fragments of taps (r, s) from rows shifted by r (w + 2 pad) + s,
// then the warpgroup issues their wgmmas.
template <bool Fp8, int C, bool Residual>
__global__ void __launch_bounds__(kThreads, C == 128 ? 1 : 2)
    halo_conv_kernel(IgemmConvParams p, HaloConstants k, const uint8_t* __restrict__ x, const uint8_t* __restrict__ w) {
  constexpr int kR = filter_size(C), kPad = padding(C);
  constexpr int kBlocks = C >= 64 ? C / 64 : 1;  // 64-byte channel blocks of a halo row
  constexpr int kRowPieces = C / 16;              // 16-byte pieces of an input row
  constexpr int kFilterPieces = kR * kR * kRowPieces;
  constexpr int kBCopies = kBN * kFilterPieces / kThreads;
  constexpr int kOutPieces = kBN / 16;
  constexpr int kOutCopies = kBM * kOutPieces / kThreads;
  static_assert(kBN * kFilterPieces % kThreads == 0 && kBM * kOutPieces % kThreads == 0, "whole copies");

  extern __shared__ __align__(128) uint8_t smem_raw[];
  uint8_t* const smem = smem_raw + ((512 - (shared_address(smem_raw) & 511)) & 511);
  const uint32_t smem_base = shared_address(smem);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int n0 = blockIdx.x * kBN;
  const int block_stride = k.halo_rows * 64;  // bytes of one channel block of the halo

  // Filters (KRSC rows of R*S*C bytes) and per-channel vectors, once.
#pragma unroll
  for (int j = 0; j < kBCopies; ++j) {
    const int index = tid + j * kThreads, row = index / kFilterPieces, piece = index % kFilterPieces;
    copy16_async(smem_base + (piece / 4) * kBN * kBK + tile_offset(row, piece % 4),
                 w + (n0 + row) * (kFilterPieces * 16) + piece * 16, true);
  }
  if (tid < 2 * kBN / 4) {
    const float* src = (tid < kBN / 4 ? p.scale + n0 + tid * 4 : p.bias + n0 + (tid - kBN / 4) * 4);
    copy16_async(smem_base + k.params + tid * 16, src, true);
  }

  // A tile's copies: the halo rows (padded input pixels v0 .., zeros in the padding) and the
  // residual rows of its real outputs.
  auto load_tile = [&](int tile, int stage) {
    const int v0 = tile * kBM;
    const uint32_t st = smem_base + k.stage + stage * k.stage_bytes;
    for (int index = tid; index < k.halo_rows * kRowPieces; index += kThreads) {
      const int q = index / kRowPieces, piece = index % kRowPieces, g = v0 + q;
      const int img = k.padded_image.div(g), rem = g - img * int(k.padded_image.divisor);
      const int yp = k.padded_w.div(rem), xp = rem - yp * int(k.padded_w.divisor);
      const int yi = yp - kPad, xi = xp - kPad;  // the input pixel
      const bool inside = g < k.virtual_pixels && yi >= 0 && yi < p.h && xi >= 0 && xi < p.w;
      const uint8_t* src = x + ((int64_t(img) * p.h + yi) * p.w + xi) * C + piece * 16;
      const uint32_t dst = C == 16 ? st + q * 16 : st + (piece / 4) * block_stride + tile_offset(q, piece % 4);
      copy16_async(dst, inside ? src : x, inside);
    }
    if constexpr (Residual) {
#pragma unroll
      for (int j = 0; j < kOutCopies; ++j) {
        const int index = tid + j * kThreads, row = index / kOutPieces, piece = index % kOutPieces;
        const Position at = position_of(p, k, v0 + row);
        const uint8_t* src = static_cast<const uint8_t*>(p.z) + at.m * p.z_stride + n0 + piece * 16;
        copy16_async(st + k.z + row * padded_row(kBN) + piece * 16, at.real ? src : x, at.real);
      }
    }
  };

  int tile = blockIdx.y;
  load_tile(tile, 0);
  commit_async();

  using Acc = std::conditional_t<Fp8, float, int>;  // f32 sums of E4M3 products, int32 of INT8 ones
  Acc acc[kBN / 2];
#pragma unroll
  for (int e = 0; e < kBN / 2; ++e) acc[e] = Acc(0);
  const float* params = reinterpret_cast<const float*>(smem + k.params);
  uint8_t* const y_tile = smem + k.y;
  const int warp_row = warp * 16 + (lane & 15);  // this lane's A row for ldmatrix
  const int pw = int(k.padded_w.divisor);

  for (int i = 0; tile < k.tiles; ++i, tile += gridDim.y) {
    const int next = tile + gridDim.y;
    if (next < k.tiles) load_tile(next, (i + 1) & 1);
    commit_async();
    wait_async<1>();                // this tile's group has landed (for this thread) ...
    wgmma::fence_async_shared();    // ... the filters visible to wgmma's reads ...
    __syncthreads();                // ... for every thread

    const int stage = i & 1;
    const uint32_t halo = smem_base + k.stage + stage * k.stage_bytes;
    if constexpr (C == 16) {
      // Space-to-depth stem: k step (r, j) is taps (r, 2j) and (r, 2j + 1), the 32 bytes of
      // two neighbouring pixels: lanes 0-15 address the row's pixel, lanes 16-31 the next one.
      uint32_t a[kR][2][4];
#pragma unroll
      for (int r = 0; r < kR; ++r)
#pragma unroll
        for (int j = 0; j < 2; ++j) load_matrix_x4(halo + (warp_row + r * pw + 2 * j + (lane >> 4)) * 16, a[r][j]);
      wgmma::fence_operands(acc);
      wgmma::fence();
#pragma unroll
      for (int r = 0; r < kR; ++r)
#pragma unroll
        for (int j = 0; j < 2; ++j)
          wgmma::MmaRegA64<Fp8>::run(acc, a[r][j], wgmma::descriptor(smem_base + r * kBN * kBK) + 2 * j, (r | j) != 0);
      wgmma::commit();
      wgmma::wait<0>();
      wgmma::fence_operands(acc);
    } else {
      // Filter row r's A fragments go to register set r % 2: row r + 1's are loaded while row
      // r's MMAs run, and a set is refilled only after the MMAs that read it have completed.
      uint32_t a[2][3][kBlocks][2][4];
      auto load_row = [&](int r) {
  #pragma unroll
        for (int s = 0; s < 3; ++s)
  #pragma unroll
          for (int b = 0; b < kBlocks; ++b)
  #pragma unroll
            for (int j = 0; j < 2; ++j)
              load_matrix_x4(halo + b * block_stride + tile_offset(warp_row + r * pw + s, 2 * j + (lane >> 4)),
                             a[r % 2][s][b][j]);
      };
      auto multiply_row = [&](int r) {
        wgmma::fence();  // the A registers just written, before the MMAs read them
  #pragma unroll
        for (int s = 0; s < 3; ++s)
  #pragma unroll
          for (int b = 0; b < kBlocks; ++b)
  #pragma unroll
            for (int j = 0; j < 2; ++j) {
              const uint64_t b_desc = wgmma::descriptor(smem_base + ((r * 3 + s) * kBlocks + b) * kBN * kBK) + 2 * j;
              wgmma::MmaRegA64<Fp8>::run(acc, a[r % 2][s][b][j], b_desc, (r | s | b | j) != 0);
            }
        wgmma::commit();
      };
      wgmma::fence_operands(acc);
      load_row(0);
      multiply_row(0);
      load_row(1);
      multiply_row(1);
      wgmma::wait<1>();  // row 0's MMAs are done: set 0 is free
      load_row(2);
      multiply_row(2);
      wgmma::wait<0>();
      wgmma::fence_operands(acc);
    }

    finish_8bit_tile<Fp8, kBN, Residual>(acc, params, smem + k.stage + stage * k.stage_bytes + k.z, y_tile,
                                         p.z_scale, p.relu, p.y_inv_scale, warp, lane);
    __syncthreads();  // the output tile is whole; this stage's reads are done

    const int v0 = tile * kBM;
#pragma unroll
    for (int j = 0; j < kOutCopies; ++j) {
      const int index = tid + j * kThreads, row = index / kOutPieces, piece = index % kOutPieces;
      const Position at = position_of(p, k, v0 + row);
      if (at.real)
        *reinterpret_cast<uint4*>(static_cast<uint8_t*>(p.y) + at.m * p.y_stride + n0 + piece * 16) =
            *reinterpret_cast<const uint4*>(y_tile + row * padded_row(kBN) + piece * 16);
    }
  }
  wait_async<0>();
}

template <bool Fp8, int C, bool Residual>
cudaError_t launch(const IgemmConvParams& p, const HaloConstants& k, const void* x, const void* w,
                   cudaStream_t stream) {
  auto kernel = halo_conv_kernel<Fp8, C, Residual>;
  int device = 0;
  if (const cudaError_t st = cudaGetDevice(&device); st != cudaSuccess) return st;
  // Opt in to the largest tile this kernel may need (227 KB) once per device; the resident
  // blocks depend on the image width, so they are asked for at each launch.
  static std::atomic<uint64_t> opted_in{0};
  if (const cudaError_t st = opt_in_shared_memory(kernel, 227 * 1024, device, opted_in); st != cudaSuccess) return st;
  const int blocks = device_resident_blocks(kernel, kThreads, k.total, device);
  const int columns = p.k / kBN;
  const int rows = std::max(1, std::min(k.tiles, blocks / columns));
  kernel<<<dim3(columns, rows), kThreads, k.total, stream>>>(p, k, static_cast<const uint8_t*>(x),
                                                              static_cast<const uint8_t*>(w));
  return cudaGetLastError();
}

template <bool Fp8>
cudaError_t dispatch(const IgemmConvParams& p, const HaloConstants& k, const void* x, const void* w,
                     cudaStream_t stream) {
  const bool residual = p.z_kind != ResidualKind::kNone;
  if (p.c == 16)
    return residual ? launch<Fp8, 16, true>(p, k, x, w, stream) : launch<Fp8, 16, false>(p, k, x, w, stream);
  if (p.c == 64)
    return residual ? launch<Fp8, 64, true>(p, k, x, w, stream) : launch<Fp8, 64, false>(p, k, x, w, stream);
  return residual ? launch<Fp8, 128, true>(p, k, x, w, stream) : launch<Fp8, 128, false>(p, k, x, w, stream);
}

}  // namespace

std::string halo_conv_unsupported(const IgemmConvParams& p) {
  if (std::string why = eight_bit_epilogue_unsupported(p); !why.empty()) return why;
  if (p.c != 16 && p.c != 64 && p.c != 128) return std::to_string(p.c) + " input channels: not 16, 64 or 128";
  const int r = filter_size(p.c), pad = padding(p.c);
  if (p.r != r || p.s != r || p.stride_h != 1 || p.stride_w != 1 || p.dil_h != 1 || p.dil_w != 1 || p.pad_h != pad ||
      p.pad_w != pad || p.ho != p.h + 2 * pad - r + 1 || p.wo != p.w + 2 * pad - r + 1)
    return p.c == 16 ? "16 input channels: not a 4x4 stride-1 unpadded convolution (a space-to-depth stem)"
                     : "not a 3x3 stride-1 convolution with padding 1";
  if (p.k <= 0 || p.k % kBN != 0) return std::to_string(p.k) + " output channels: not a multiple of 64";
  if (int64_t(p.n) * (p.h + 2) * (p.w + 2) >= (int64_t(1) << 31) - kBM) return "2^31 padded pixels or more";
  if (halo_constants(p).total > 227 * 1024) return "a row too wide for the halo tile in shared memory";
  if (!aligned16(p.scale) || !aligned16(p.bias)) return "scales or biases not 16-byte aligned";
  if (!aligned16(p.y) || p.y_stride % 16 != 0) return "output rows not in 16-byte pieces";
  if (p.z_kind != ResidualKind::kNone && (!aligned16(p.z) || p.z_stride % 16 != 0))
    return "residual rows not in 16-byte pieces";
  return {};
}

cudaError_t halo_conv(const IgemmConvParams& p, const void* x, const void* w, cudaStream_t stream) {
  if (!halo_conv_unsupported(p).empty() || !aligned16(x) || !aligned16(w)) return cudaErrorInvalidValue;
  const HaloConstants k = halo_constants(p);
  return p.fp8 ? dispatch<true>(p, k, x, w, stream) : dispatch<false>(p, k, x, w, stream);
}

}  // namespace kiln::cuda::int8
