// Device code for pooling.h.
#include <cfloat>

#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/pooling.h"

namespace kiln::cuda::kernels::detail {
namespace {

using device::from_f32;
using device::grid_for;
using device::to_f32;

// One thread per output element; the index order follows the layout so that
// neighbouring threads write neighbouring outputs.
template <typename T>
__global__ void pool2d_kernel(Pool2dParams p, const T* __restrict__ x, T* __restrict__ y) {
  const int64_t total = p.n * p.c * p.out_h * p.out_w;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const bool nhwc = p.layout == Layout::kNHWC;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    int64_t rest = i, n, c, oh, ow;
    if (nhwc) {
      c = rest % p.c; rest /= p.c;
      ow = rest % p.out_w; rest /= p.out_w;
      oh = rest % p.out_h; n = rest / p.out_h;
    } else {
      ow = rest % p.out_w; rest /= p.out_w;
      oh = rest % p.out_h; rest /= p.out_h;
      c = rest % p.c; n = rest / p.c;
    }
    const int64_t h0 = oh * p.stride_h - p.pad_top;
    const int64_t w0 = ow * p.stride_w - p.pad_left;
    float acc = p.kind == PoolKind::kMax ? -FLT_MAX : 0.0f;
    int real = 0, padded = 0;
    for (int kh = 0; kh < p.kernel_h; ++kh) {
      const int64_t h = h0 + int64_t(kh) * p.dilation_h;
      const bool h_in_pad = h >= -p.pad_top && h < p.in_h + p.pad_bottom;
      for (int kw = 0; kw < p.kernel_w; ++kw) {
        const int64_t w = w0 + int64_t(kw) * p.dilation_w;
        if (h_in_pad && w >= -p.pad_left && w < p.in_w + p.pad_right) ++padded;
        if (h < 0 || h >= p.in_h || w < 0 || w >= p.in_w) continue;
        const int64_t idx = nhwc ? ((n * p.in_h + h) * p.in_w + w) * p.c + c : ((n * p.c + c) * p.in_h + h) * p.in_w + w;
        const float v = to_f32(x[idx]);
        acc = p.kind == PoolKind::kMax ? fmaxf(acc, v) : acc + v;
        ++real;
      }
    }
    float out;
    if (p.kind == PoolKind::kMax) {
      out = real > 0 ? acc : 0.0f;
    } else {
      const int divisor = p.count_include_pad ? padded : real;
      out = divisor > 0 ? acc / float(divisor) : 0.0f;
    }
    y[i] = from_f32<T>(out);
  }
}

template <typename T> struct alignas(16) Vec16 {
  static constexpr int kCount = 16 / sizeof(T);
  T v[kCount];
};

// NHWC pooling, one thread per (output pixel, 16-byte channel vector), 32-bit index math:
// neighbouring threads read neighbouring 16-byte vectors of the same input pixels, so every
// load is a coalesced 16-byte one. The scalar kernel above spends its time in 64-bit
// divisions and 2-byte loads (ResNet-50's 3x3/2 max pool at batch 256 in FP16: 1.96 ms
// there, a bandwidth-bound pass here). Needs c % kVec == 0, 16-byte aligned tensors and
// fewer than 2^31 elements.
template <typename T, int kVec>
__global__ void pool2d_nhwc_vec_kernel(Pool2dParams p, int vectors, int total, const T* __restrict__ x,
                                       T* __restrict__ y) {
  const int stride = int(gridDim.x) * blockDim.x;
  const int in_h = int(p.in_h), in_w = int(p.in_w), out_h = int(p.out_h), out_w = int(p.out_w), c = int(p.c);
  const bool is_max = p.kind == PoolKind::kMax;
  for (int i = int(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    int rest = i;
    const int v = rest % vectors; rest /= vectors;
    const int ow = rest % out_w; rest /= out_w;
    const int oh = rest % out_h;
    const int n = rest / out_h;
    const int h0 = oh * p.stride_h - p.pad_top, w0 = ow * p.stride_w - p.pad_left;
    float acc[kVec];
#pragma unroll
    for (int k = 0; k < kVec; ++k) acc[k] = is_max ? -FLT_MAX : 0.0f;
    int real = 0, padded = 0;
    for (int kh = 0; kh < p.kernel_h; ++kh) {
      const int h = h0 + kh * p.dilation_h;
      const bool h_in_pad = h >= -p.pad_top && h < in_h + p.pad_bottom;
      for (int kw = 0; kw < p.kernel_w; ++kw) {
        const int w = w0 + kw * p.dilation_w;
        if (h_in_pad && w >= -p.pad_left && w < in_w + p.pad_right) ++padded;
        if (h < 0 || h >= in_h || w < 0 || w >= in_w) continue;
        Vec16<T> in = *reinterpret_cast<const Vec16<T>*>(x + ((n * in_h + h) * in_w + w) * c + v * kVec);
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          const float f = to_f32(in.v[k]);
          acc[k] = is_max ? fmaxf(acc[k], f) : acc[k] + f;
        }
        ++real;
      }
    }
    const int divisor = p.count_include_pad ? padded : real;
    Vec16<T> out;
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      const float f = is_max ? (real > 0 ? acc[k] : 0.0f) : (divisor > 0 ? acc[k] / float(divisor) : 0.0f);
      out.v[k] = from_f32<T>(f);
    }
    *reinterpret_cast<Vec16<T>*>(y + ((n * out_h + oh) * out_w + ow) * c + v * kVec) = out;
  }
}

// NHWC global pooling. Block = 32 x kRows threads: x walks channel vectors (coalesced
// 16-byte loads across the warp), y splits the spatial positions; a shared-memory
// reduction over y finishes. grid = (ceil(vectors/32), N).
constexpr int kRows = 8;

template <typename T, int kVec>
__global__ void global_pool_nhwc_kernel(PoolKind kind, int64_t c, int64_t spatial, const T* __restrict__ x,
                                        T* __restrict__ y) {
  __shared__ float partial[kRows][32][kVec];
  const int64_t vectors = c / kVec;
  const int64_t v = int64_t(blockIdx.x) * 32 + threadIdx.x;
  const int64_t n = blockIdx.y;
  const bool is_max = kind == PoolKind::kMax;
  float acc[kVec];
#pragma unroll
  for (int k = 0; k < kVec; ++k) acc[k] = is_max ? -FLT_MAX : 0.0f;
  if (v < vectors) {
    const T* base = x + n * spatial * c + v * kVec;
    for (int64_t s = threadIdx.y; s < spatial; s += kRows) {
      T vals[kVec];
      if constexpr (kVec * sizeof(T) == 16) {
        *reinterpret_cast<Vec16<T>*>(vals) = *reinterpret_cast<const Vec16<T>*>(base + s * c);
      } else {
#pragma unroll
        for (int k = 0; k < kVec; ++k) vals[k] = base[s * c + k];
      }
#pragma unroll
      for (int k = 0; k < kVec; ++k) {
        const float f = to_f32(vals[k]);
        acc[k] = is_max ? fmaxf(acc[k], f) : acc[k] + f;
      }
    }
  }
#pragma unroll
  for (int k = 0; k < kVec; ++k) partial[threadIdx.y][threadIdx.x][k] = acc[k];
  __syncthreads();
  if (threadIdx.y != 0 || v >= vectors) return;
  for (int r = 1; r < kRows; ++r) {
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      const float f = partial[r][threadIdx.x][k];
      acc[k] = is_max ? fmaxf(acc[k], f) : acc[k] + f;
    }
  }
  const float scale = is_max ? 1.0f : 1.0f / float(spatial);
#pragma unroll
  for (int k = 0; k < kVec; ++k) y[n * c + v * kVec + k] = from_f32<T>(acc[k] * scale);
}

// NCHW global pooling: one warp per (n, c) row of `spatial` contiguous values.
template <typename T>
__global__ void global_pool_nchw_kernel(PoolKind kind, int64_t rows, int64_t spatial, const T* __restrict__ x,
                                        T* __restrict__ y) {
  const int64_t warps_total = int64_t(gridDim.x) * (blockDim.x / 32);
  const int lane = threadIdx.x & 31;
  const bool is_max = kind == PoolKind::kMax;
  for (int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; row < rows; row += warps_total) {
    const T* base = x + row * spatial;
    float acc = is_max ? -FLT_MAX : 0.0f;
    for (int64_t s = lane; s < spatial; s += 32) {
      const float f = to_f32(base[s]);
      acc = is_max ? fmaxf(acc, f) : acc + f;
    }
    for (int offset = 16; offset > 0; offset /= 2) {
      const float other = __shfl_xor_sync(0xffffffffu, acc, offset);
      acc = is_max ? fmaxf(acc, other) : acc + other;
    }
    if (lane == 0) y[row] = from_f32<T>(is_max ? acc : acc / float(spatial));
  }
}

template <typename T, int kVec>
void launch_nhwc(PoolKind kind, int64_t n, int64_t c, int64_t spatial, const void* x, void* y, cudaStream_t stream) {
  const int64_t vectors = c / kVec;
  // grid.y is limited to 65535, so very large batches go in chunks.
  for (int64_t first = 0; first < n; first += 65535) {
    const int64_t batch = n - first < 65535 ? n - first : 65535;
    dim3 grid(static_cast<unsigned>((vectors + 31) / 32), static_cast<unsigned>(batch));
    global_pool_nhwc_kernel<T, kVec><<<grid, dim3(32, kRows), 0, stream>>>(
        kind, c, spatial, static_cast<const T*>(x) + first * spatial * c, static_cast<T*>(y) + first * c);
  }
}

}  // namespace

cudaError_t launch_pool2d(const Pool2dParams& p, const void* x, void* y, cudaStream_t stream) {
  KILN_DISPATCH_FLOAT(p.dtype, T, {
    constexpr int kVec = 16 / sizeof(T);
    const bool aligned = ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(y)) & 15) == 0;
    const int64_t in_elems = p.n * p.c * p.in_h * p.in_w, out_elems = p.n * p.c * p.out_h * p.out_w;
    if (p.layout == Layout::kNHWC && aligned && p.c % kVec == 0 && in_elems < (int64_t(1) << 31) &&
        out_elems < (int64_t(1) << 31)) {
      const int vectors = static_cast<int>(p.c / kVec);
      const int total = static_cast<int>(out_elems / kVec);
      pool2d_nhwc_vec_kernel<T, kVec><<<grid_for(total, 256), 256, 0, stream>>>(
          p, vectors, total, static_cast<const T*>(x), static_cast<T*>(y));
      return cudaGetLastError();
    }
    pool2d_kernel<T><<<grid_for(p.n * p.c * p.out_h * p.out_w, 256), 256, 0, stream>>>(
        p, static_cast<const T*>(x), static_cast<T*>(y));
  });
  return cudaGetLastError();
}

cudaError_t launch_global_pool(PoolKind kind, Layout layout, DType dtype, int64_t n, int64_t c, int64_t spatial,
                               const void* x, void* y, cudaStream_t stream) {
  KILN_DISPATCH_FLOAT(dtype, T, {
    if (layout == Layout::kNHWC) {
      constexpr int kVec = 16 / sizeof(T);
      const bool aligned = (reinterpret_cast<uintptr_t>(x) & 15) == 0;
      if (aligned && c % kVec == 0) {
        launch_nhwc<T, kVec>(kind, n, c, spatial, x, y, stream);
      } else {
        launch_nhwc<T, 1>(kind, n, c, spatial, x, y, stream);
      }
    } else {
      global_pool_nchw_kernel<T><<<grid_for(n * c * 32, 256), 256, 0, stream>>>(
          kind, n * c, spatial, static_cast<const T*>(x), static_cast<T*>(y));
    }
  });
  return cudaGetLastError();
}

}  // namespace kiln::cuda::kernels::detail
