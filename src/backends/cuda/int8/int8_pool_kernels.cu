#include "backends/cuda/int8/int8_pool.h"

#include <algorithm>
#include <cstdint>

namespace kiln::cuda::int8 {

namespace {

using kernels::Pool2dParams;

// E4M3 codes are sign and magnitude, so as signed bytes the negative ones order backwards;
// XORing the magnitude bits of the negative codes with 0x7f turns them into -1 - magnitude,
// which orders as their values do (and -0 below +0, equal values). The map is its own
// inverse: the maxima of the keys map back to codes of the pool's input.
__device__ __forceinline__ uint32_t order_key(uint32_t codes) { return codes ^ (((codes >> 7) & 0x01010101u) * 0x7fu); }

// Bytes of channels one thread pools: 16 (four 32-bit words) when the rows allow, else 4,
// else 1. The words are compared four signed bytes at a time (__vmaxs4).
template <int kBytes>
struct Chunk {
  static constexpr int kWords = kBytes >= 4 ? kBytes / 4 : 1;
  uint32_t w[kWords];
};

template <int kBytes>
__device__ __forceinline__ Chunk<kBytes> load_chunk(const int8_t* p) {
  Chunk<kBytes> c;
  if constexpr (kBytes == 16) {
    const uint4 v = *reinterpret_cast<const uint4*>(p);
    c.w[0] = v.x, c.w[1] = v.y, c.w[2] = v.z, c.w[3] = v.w;
  } else if constexpr (kBytes == 4) {
    c.w[0] = *reinterpret_cast<const uint32_t*>(p);
  } else {
    c.w[0] = static_cast<uint8_t>(*p);
  }
  return c;
}

template <int kBytes>
__device__ __forceinline__ void store_chunk(int8_t* p, const Chunk<kBytes>& c) {
  if constexpr (kBytes == 16) {
    *reinterpret_cast<uint4*>(p) = make_uint4(c.w[0], c.w[1], c.w[2], c.w[3]);
  } else if constexpr (kBytes == 4) {
    *reinterpret_cast<uint32_t*>(p) = c.w[0];
  } else {
    *p = static_cast<int8_t>(c.w[0]);
  }
}

// One thread per (output pixel, chunk of kBytes channels); 32-bit index math (the host
// checks the sizes fit).
template <int kBytes, bool Fp8>
__global__ void int8_max_pool_kernel(Pool2dParams p, int chunks, int total, const int8_t* __restrict__ x,
                                     int8_t* __restrict__ y) {
  const int c = static_cast<int>(p.c), in_h = static_cast<int>(p.in_h), in_w = static_cast<int>(p.in_w);
  const int out_h = static_cast<int>(p.out_h), out_w = static_cast<int>(p.out_w);
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    int rest = i;
    const int chunk = rest % chunks;
    rest /= chunks;
    const int ow = rest % out_w;
    rest /= out_w;
    const int oh = rest % out_h;
    const int n = rest / out_h;
    Chunk<kBytes> acc;
#pragma unroll
    for (int k = 0; k < Chunk<kBytes>::kWords; ++k) acc.w[k] = kBytes == 1 ? 0x80u : 0x80808080u;  // -128s
    bool any = false;
    const int h0 = oh * p.stride_h - p.pad_top, w0 = ow * p.stride_w - p.pad_left;
    for (int kh = 0; kh < p.kernel_h; ++kh) {
      const int h = h0 + kh * p.dilation_h;
      if (h < 0 || h >= in_h) continue;
      for (int kw = 0; kw < p.kernel_w; ++kw) {
        const int w = w0 + kw * p.dilation_w;
        if (w < 0 || w >= in_w) continue;
        const Chunk<kBytes> v = load_chunk<kBytes>(x + ((int64_t(n) * in_h + h) * in_w + w) * c + chunk * kBytes);
#pragma unroll
        for (int k = 0; k < Chunk<kBytes>::kWords; ++k) {
          const uint32_t key = Fp8 ? order_key(v.w[k]) : v.w[k];
          if constexpr (kBytes == 1)
            acc.w[k] = static_cast<uint8_t>(max(static_cast<int8_t>(acc.w[k]), static_cast<int8_t>(key)));
          else
            acc.w[k] = __vmaxs4(acc.w[k], key);
        }
        any = true;
      }
    }
    if (!any)
#pragma unroll
      for (int k = 0; k < Chunk<kBytes>::kWords; ++k) acc.w[k] = 0;
    if constexpr (Fp8)
#pragma unroll
      for (int k = 0; k < Chunk<kBytes>::kWords; ++k) acc.w[k] = order_key(acc.w[k]);
    store_chunk<kBytes>(y + ((int64_t(n) * out_h + oh) * out_w + ow) * c + chunk * kBytes, acc);
  }
}

template <int kBytes, bool Fp8>
cudaError_t launch(const Pool2dParams& p, const int8_t* x, int8_t* y, cudaStream_t stream) {
  const int chunks = static_cast<int>(p.c / kBytes);
  const int total = static_cast<int>(p.n * p.out_h * p.out_w * chunks);
  constexpr int kThreads = 256;
  const int blocks = static_cast<int>(std::min<int64_t>((int64_t(total) + kThreads - 1) / kThreads, 1 << 20));
  int8_max_pool_kernel<kBytes, Fp8><<<blocks, kThreads, 0, stream>>>(p, chunks, total, x, y);
  return cudaGetLastError();
}

bool aligned(const void* ptr, int bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes == 0; }

template <bool Fp8>
cudaError_t launch_for_alignment(const Pool2dParams& p, const int8_t* x, int8_t* y, cudaStream_t stream) {
  if (p.c % 16 == 0 && aligned(x, 16) && aligned(y, 16)) return launch<16, Fp8>(p, x, y, stream);
  if (p.c % 4 == 0 && aligned(x, 4) && aligned(y, 4)) return launch<4, Fp8>(p, x, y, stream);
  return launch<1, Fp8>(p, x, y, stream);
}

}  // namespace

namespace detail {
cudaError_t launch_8bit_max_pool(const Pool2dParams& p, bool fp8, const void* x, void* y, cudaStream_t stream) {
  const auto* xb = static_cast<const int8_t*>(x);
  auto* yb = static_cast<int8_t*>(y);
  return fp8 ? launch_for_alignment<true>(p, xb, yb, stream) : launch_for_alignment<false>(p, xb, yb, stream);
}
}  // namespace detail

}  // namespace kiln::cuda::int8
