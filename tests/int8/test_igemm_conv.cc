// igemm_conv (backends/cuda/int8/igemm_conv.h), kiln's implicit-GEMM INT8 / FP8 convolution
// with the epilogue fused in, against the path it replaces: direct_conv (direct_conv_fp8)
// writing the sums as f32, then conv_epilogue (int8_kernels.h). Every tile shape is run.
//
// INT8: integer sums are exact in any order and the fused epilogue runs conv_epilogue's
// float operations in the same order, so every output byte must be identical.
// FP8: the tensor cores sum E4M3 products in f32 in their own order, so a value near a
// rounding boundary may come out one E4M3 step (at most 1/8 of its magnitude) away; such
// values must be rare (< 2% of the elements); wgmma tiles, whose FP8 sums carry fewer bits,
// also within 2^-6 absolute (kOneE4m3StepWgmma). F16 outputs of FP8 sums are held to a small
// absolute + relative bound instead (their low bits differ often, and harmlessly).
//
// Shapes: 1x1 stride 1 with several pixel tiles and a partial last one, 3x3 pad 1, 3x3
// stride 2 on odd sizes, 1x1 stride 2 (downsample), input channels that are not a multiple
// of the 64-byte reduction block (16, 48, 80), output channels that are not a multiple of
// any tile (80, 40, 20 with INT8 output; 7 and 6 with f16 output), dilation 2, a 3x1
// kernel with unequal strides, output rows wider than k (channels past k must be left
// alone), residuals none / INT8 (FP8) / f16 with relu on and off, outputs INT8 / FP8 / f16.
// The stream tiles (pointwise) and the halo tile (3x3 stride 1) take only their own cases,
// which get cases of their own besides: many tiles per persistent thread block, ResNet-50's
// widths, odd sizes (IgemmConvStream, IgemmConvHalo; their FP8 cases are in IgemmConvFp8).
// Besides the outputs, every byte igemm_conv must not write (row padding, rows past the
// last pixel, a guard tail) is checked to keep its sentinel value.
#ifdef KILN_HAVE_CUDA

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/int8/halo_conv.h"
#include "backends/cuda/int8/igemm_conv.h"
#include "backends/cuda/int8/int8_kernels.h"
#include "backends/cuda/int8/stream_gemm.h"
#include "backends/cuda/int8/tma_conv.h"
#include "quant/fp8.h"

namespace kiln::cuda_test {
namespace {

namespace i8 = ::kiln::cuda::int8;
using i8::IgemmConvParams;
using i8::IgemmOutput;
using i8::ResidualKind;

// Skips a test on a machine without a GPU.
#define KILN_SKIP_WITHOUT_GPU()                 \
  if (::kiln::cuda::cuda_device_count() == 0) \
  GTEST_SKIP() << "no CUDA device: igemm_conv and its reference (direct_conv + conv_epilogue) need a GPU"

// ---------------------------------------------------------------------------------------
// CUDA plumbing

void cuda_ok(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(fmt::format("{}: {}", what, cudaGetErrorString(status)));
}
#define KILN_CUDA_OK(call) cuda_ok((call), #call)

// One device allocation, freed on scope exit.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) { KILN_CUDA_OK(cudaMalloc(&ptr_, std::max<size_t>(bytes, 1))); }
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(ptr_); }

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

template <typename T>
DeviceBuffer upload(const std::vector<T>& host) {
  DeviceBuffer buffer(host.size() * sizeof(T));
  KILN_CUDA_OK(cudaMemcpy(buffer.get(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return buffer;
}

std::vector<uint8_t> download(const DeviceBuffer& buffer) {
  std::vector<uint8_t> host(buffer.bytes());
  KILN_CUDA_OK(cudaMemcpy(host.data(), buffer.get(), host.size(), cudaMemcpyDeviceToHost));
  return host;
}

// Waits for the work queued so far and surfaces any launch or execution error.
void synchronize() {
  KILN_CUDA_OK(cudaGetLastError());
  KILN_CUDA_OK(cudaDeviceSynchronize());
}

// ---------------------------------------------------------------------------------------
// The convolutions under test

struct ConvCase {
  const char* name = "";
  bool fp8 = false;  // E4M3 operands (and FP8 residual / output), else INT8
  int n = 1, h = 1, w = 1, c = 16, k = 16;
  int r = 1, s = 1;
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dil_h = 1, dil_w = 1;
  ResidualKind z_kind = ResidualKind::kNone;
  bool relu = false;
  IgemmOutput y_kind = IgemmOutput::kInt8;
  int y_extra = 0;  // y_stride = k + y_extra; the extra channels must stay untouched

  int ho() const { return (h + 2 * pad_h - dil_h * (r - 1) - 1) / stride_h + 1; }
  int wo() const { return (w + 2 * pad_w - dil_w * (s - 1) - 1) / stride_w + 1; }
  int64_t pixels() const { return int64_t(n) * ho() * wo(); }
  int y_stride() const { return k + y_extra; }
  // The residual's rows: k channels, which is k_pad for conv_epilogue (k == k_pad here).
  int z_stride() const { return k; }
};

size_t output_element_bytes(IgemmOutput kind) { return kind == IgemmOutput::kF16 ? 2 : 1; }

// Test names: gtest wants [A-Za-z0-9_].
std::string case_name(const ::testing::TestParamInfo<ConvCase>& info) { return info.param.name; }

// A stable seed per case (FNV-1a of its name), so each case has its own data.
uint32_t seed_of(const char* name) {
  uint32_t h = 2166136261u;
  for (const char* p = name; *p; ++p) h = (h ^ static_cast<uint8_t>(*p)) * 16777619u;
  return h;
}

// ---------------------------------------------------------------------------------------
// Operands

std::vector<int8_t> random_int8(size_t count, int lo, int hi, std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<int8_t> v(count);
  for (auto& e : v) e = static_cast<int8_t>(dist(rng));
  return v;
}

// E4M3 codes of values uniform in [-range, range] (never NaN).
std::vector<uint8_t> random_e4m3(size_t count, float range, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-range, range);
  std::vector<uint8_t> v(count);
  for (auto& e : v) e = quant::float_to_e4m3(dist(rng));
  return v;
}

std::vector<__half> random_f16(size_t count, float range, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-range, range);
  std::vector<__half> v(count);
  for (auto& e : v) e = __float2half_rn(dist(rng));
  return v;
}

std::vector<float> random_floats(size_t count, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (auto& e : v) e = dist(rng);
  return v;
}

// Per-channel scales that put the outputs' standard deviation near `target`: a sum of
// c*r*s products of standard deviation `product_std` has sqrt(c*r*s) times that, and each
// channel's scale is spread over [0.5, 1.5] of the average. For INT8 (x over -128..127,
// w over -127..127, product std ~5400) this gives scales of about 1e-3 for c = 64 1x1.
std::vector<float> channel_scales(const ConvCase& c, float product_std, float target, std::mt19937& rng) {
  const float average = target / (product_std * std::sqrt(float(c.c) * c.r * c.s));
  std::vector<float> scales = random_floats(c.k, 0.5f, 1.5f, rng);
  for (float& s : scales) s *= average;
  return scales;
}

// Everything the convolution reads, on the device. Sized for `c.n` images; a case with a
// smaller n may use them (it reads the first images and residual rows only).
struct Operands {
  DeviceBuffer x, w, scale, bias, z;
  float z_scale = 1.0f, y_inv_scale = 1.0f;
};

// The residual of `c`: INT8 / E4M3 codes or f16 values over [pixels, z_stride].
DeviceBuffer make_residual(const ConvCase& c, std::mt19937& rng) {
  const size_t count = size_t(c.pixels()) * c.z_stride();
  switch (c.z_kind) {
    case ResidualKind::kInt8: return upload(random_int8(count, -128, 127, rng));
    case ResidualKind::kFp8: return upload(random_e4m3(count, 4.0f, rng));
    case ResidualKind::kF16: return upload(random_f16(count, c.fp8 ? 4.0f : 32.0f, rng));
    case ResidualKind::kNone: break;
  }
  return DeviceBuffer(1);
}

// Seeded random operands: INT8 x over the full range -128..127 and w over -127..127, or
// E4M3 x in [-2, 2] and w in [-1, 1]; bias +-0.5; outputs spread over INT8's range (a few
// percent saturate) or a few units for FP8 / f16.
Operands make_operands(const ConvCase& c) {
  std::mt19937 rng(seed_of(c.name));
  const size_t x_count = size_t(c.n) * c.h * c.w * c.c, w_count = size_t(c.k) * c.r * c.s * c.c;
  DeviceBuffer x = c.fp8 ? upload(random_e4m3(x_count, 2.0f, rng)) : upload(random_int8(x_count, -128, 127, rng));
  DeviceBuffer w = c.fp8 ? upload(random_e4m3(w_count, 1.0f, rng)) : upload(random_int8(w_count, -127, 127, rng));
  const float product_std = c.fp8 ? 0.67f : 5400.0f, target = c.fp8 ? 2.5f : 48.0f;
  DeviceBuffer scale = upload(channel_scales(c, product_std, target, rng));
  DeviceBuffer bias = upload(random_floats(c.k, -0.5f, 0.5f, rng));
  DeviceBuffer z = make_residual(c, rng);
  Operands o{std::move(x), std::move(w), std::move(scale), std::move(bias), std::move(z)};
  o.z_scale = c.fp8 ? 0.5f : 0.37f;
  o.y_inv_scale = c.fp8 ? 1.25f : 1.3f;
  return o;
}

// ---------------------------------------------------------------------------------------
// Reference and kernel under test

// direct_conv (direct_conv_fp8) into acc [pixels, k] and conv_epilogue with k = k_pad:
// the dense output [pixels, k] as bytes.
std::vector<uint8_t> reference_output(const ConvCase& c, const Operands& o) {
  i8::DirectConvParams d;
  d.n = c.n, d.h = c.h, d.w = c.w, d.c = c.c, d.k = c.k, d.r = c.r, d.s = c.s, d.ho = c.ho(), d.wo = c.wo();
  d.pad_h = c.pad_h, d.pad_w = c.pad_w, d.stride_h = c.stride_h, d.stride_w = c.stride_w;
  d.dil_h = c.dil_h, d.dil_w = c.dil_w;
  DeviceBuffer acc(size_t(c.pixels()) * c.k * sizeof(float));
  if (c.fp8)
    KILN_CUDA_OK(i8::direct_conv_fp8(d, o.x.as<uint8_t>(), o.w.as<uint8_t>(), acc.as<float>(), nullptr));
  else
    KILN_CUDA_OK(i8::direct_conv(d, o.x.as<int8_t>(), o.w.as<int8_t>(), acc.as<float>(), nullptr));

  DeviceBuffer y(size_t(c.pixels()) * c.k * output_element_bytes(c.y_kind));
  i8::EpilogueParams e;
  e.pixels = c.pixels();
  e.k = e.k_pad = c.k;
  e.acc = acc.as<float>();
  e.scale = o.scale.as<float>();
  e.bias = o.bias.as<float>();
  e.z = c.z_kind == ResidualKind::kNone ? nullptr : o.z.get();
  e.z_kind = c.z_kind;
  e.z_scale = o.z_scale;
  e.relu = c.relu;
  e.y = y.get();
  e.y_int8 = c.y_kind == IgemmOutput::kInt8;
  e.y_fp8 = c.y_kind == IgemmOutput::kFp8;
  e.y_inv_scale = o.y_inv_scale;
  KILN_CUDA_OK(i8::conv_epilogue(e, nullptr));
  synchronize();
  return download(y);
}

IgemmConvParams igemm_params(const ConvCase& c, const Operands& o, void* y) {
  IgemmConvParams p;
  p.n = c.n, p.h = c.h, p.w = c.w, p.c = c.c, p.k = c.k, p.r = c.r, p.s = c.s, p.ho = c.ho(), p.wo = c.wo();
  p.pad_h = c.pad_h, p.pad_w = c.pad_w, p.stride_h = c.stride_h, p.stride_w = c.stride_w;
  p.dil_h = c.dil_h, p.dil_w = c.dil_w;
  p.fp8 = c.fp8;
  p.scale = o.scale.as<float>();
  p.bias = o.bias.as<float>();
  p.z = c.z_kind == ResidualKind::kNone ? nullptr : o.z.get();
  p.z_kind = c.z_kind;
  p.z_stride = c.z_stride();
  p.z_scale = o.z_scale;
  p.relu = c.relu;
  p.y = y;
  p.y_stride = c.y_stride();
  p.y_kind = c.y_kind;
  p.y_inv_scale = o.y_inv_scale;
  return p;
}

// Output buffers hold [pixels, y_stride] plus a guard tail; all of it starts as kSentinel.
constexpr uint8_t kSentinel = 0xA5;
constexpr size_t kGuardBytes = 256;

DeviceBuffer make_output_buffer(const ConvCase& c) {
  return DeviceBuffer(size_t(c.pixels()) * c.y_stride() * output_element_bytes(c.y_kind) + kGuardBytes);
}

// Fills `y` with the sentinel, runs igemm_conv with `tile` into it and returns all its bytes.
std::vector<uint8_t> run_igemm(const ConvCase& c, const Operands& o, int tile, const DeviceBuffer& y) {
  KILN_CUDA_OK(cudaMemset(y.get(), kSentinel, y.bytes()));
  const IgemmConvParams p = igemm_params(c, o, y.get());
  KILN_CUDA_OK(i8::igemm_conv(p, tile, o.x.get(), o.w.get(), nullptr));
  synchronize();
  return download(y);
}

// Bytes igemm_conv wrote that it must not have: channels [k, y_stride) of each output row,
// and everything past the last output row (rows of a larger batch, the guard tail).
int64_t count_clobbered(const ConvCase& c, const std::vector<uint8_t>& y) {
  const size_t elem = output_element_bytes(c.y_kind), row = c.y_stride() * elem, used = c.k * elem;
  const size_t end = size_t(c.pixels()) * row;
  int64_t clobbered = 0;
  for (size_t px = 0; px < size_t(c.pixels()); ++px)
    for (size_t b = used; b < row; ++b) clobbered += y[px * row + b] != kSentinel;
  for (size_t b = end; b < y.size(); ++b) clobbered += y[b] != kSentinel;
  return clobbered;
}

// ---------------------------------------------------------------------------------------
// Comparison

float decode(IgemmOutput kind, const uint8_t* element) {
  switch (kind) {
    case IgemmOutput::kInt8: return static_cast<float>(static_cast<int8_t>(*element));
    case IgemmOutput::kFp8: return quant::e4m3_to_float(*element);
    case IgemmOutput::kF16: {
      __half h;
      std::memcpy(&h, element, sizeof(h));
      return __half2float(h);
    }
  }
  return NAN;
}

// How far igemm_conv may be from the reference: `within(got, want)` for an element whose
// bytes differ, and the largest fraction of elements whose bytes may differ at all.
struct Tolerance {
  bool (*within)(float got, float want);
  double max_differing_fraction;
};

// INT8: bit for bit.
const Tolerance kExact{[](float, float) { return false; }, 0.0};
// FP8 output: one E4M3 step at most (1/8 of the magnitude; 2^-9 steps below 2^-6, so an
// absolute 2^-8 there), on under 2% of the elements. NaN is never within.
const Tolerance kOneE4m3Step{[](float got, float want) {
                               const float diff = std::fabs(got - want);
                               return diff <= std::max(std::fabs(got), std::fabs(want)) / 8 || diff <= 1.0f / 256;
                             },
                             0.02};
// The same for wgmma tiles, with an absolute floor of 2^-6: Hopper's FP8 tensor cores sum
// the products of a wgmma with fewer mantissa bits than f32, so the error of a sum is relative
// to its terms (a few units here), not to its result, and shows near zero where an E4M3 step
// is tiny (measured on an H200: 0.0156 for 0.0215, three steps of 2^-9, on 1 of 14336
// elements; mma.sync tiles stay within the bound above).
const Tolerance kOneE4m3StepWgmma{[](float got, float want) {
                                    const float diff = std::fabs(got - want);
                                    return diff <= std::max(std::fabs(got), std::fabs(want)) / 8 ||
                                           diff <= 1.0f / 64;
                                  },
                                  0.02};
// F16 output of FP8 sums (values of a few units): small absolute + relative error.
const Tolerance kF16Close{[](float got, float want) { return std::fabs(got - want) <= 0.02f + 0.01f * std::fabs(want); },
                          1.0};

Tolerance tolerance_for(const ConvCase& c, const std::string& tile) {
  if (!c.fp8) return kExact;
  if (c.y_kind == IgemmOutput::kF16) return kF16Close;
  const bool wgmma = tile.rfind("wgmma", 0) == 0 || tile.rfind("stream", 0) == 0 || tile.rfind("halo", 0) == 0 ||
                     tile.rfind("tma", 0) == 0;
  return wgmma ? kOneE4m3StepWgmma : kOneE4m3Step;
}

struct Comparison {
  int64_t elements = 0, differing = 0, out_of_tolerance = 0;
  std::string first;  // the first differing elements, one a line
};

// igemm's [pixels, y_stride] output against the reference's dense [pixels, k].
Comparison compare(const ConvCase& c, const std::vector<uint8_t>& got, const std::vector<uint8_t>& want,
                   const Tolerance& tolerance) {
  const size_t elem = output_element_bytes(c.y_kind);
  Comparison result;
  for (int64_t px = 0; px < c.pixels(); ++px)
    for (int ch = 0; ch < c.k; ++ch) {
      const uint8_t* g = got.data() + (size_t(px) * c.y_stride() + ch) * elem;
      const uint8_t* w = want.data() + (size_t(px) * c.k + ch) * elem;
      ++result.elements;
      if (std::memcmp(g, w, elem) == 0) continue;
      ++result.differing;
      const float gv = decode(c.y_kind, g), wv = decode(c.y_kind, w);
      const bool bad = !tolerance.within(gv, wv);
      result.out_of_tolerance += bad;
      if (result.differing <= 8 || (bad && result.out_of_tolerance <= 4))  // every bad one, up to 4
        result.first += fmt::format("  pixel {} channel {}: got {} want {}{}\n", px, ch, gv, wv,
                                    bad ? "  (out of tolerance)" : "");
    }
  return result;
}

// The reference must exercise the epilogue: many distinct values, not mostly zero (relu)
// or saturated (INT8).
void expect_varied(const ConvCase& c, const std::vector<uint8_t>& want) {
  const size_t elem = output_element_bytes(c.y_kind), count = want.size() / elem;
  std::set<float> distinct;
  size_t zeros = 0, saturated = 0;
  for (size_t i = 0; i < count; ++i) {
    const float v = decode(c.y_kind, want.data() + i * elem);
    distinct.insert(v);
    zeros += v == 0.0f;
    saturated += c.y_kind == IgemmOutput::kInt8 && (v >= 127.0f || v <= -128.0f);
  }
  EXPECT_GE(distinct.size(), 16u) << c.name << ": reference output too uniform";
  EXPECT_LT(double(zeros), 0.75 * count) << c.name << ": reference output mostly zero";
  EXPECT_LT(double(saturated), 0.25 * count) << c.name << ": reference output mostly saturated";
}

// Output channels per block of a stream tile ("stream 128x64": 64), 0 for other tiles.
int stream_channels(int tile) {
  const std::string name = i8::igemm_tile_name(tile);
  return name.rfind("stream", 0) == 0 ? std::stoi(name.substr(name.find('x') + 1)) : 0;
}

// The output and residual rule of the stream and halo tiles: the operands' 8-bit type (INT8
// or E4M3) for the output, rows in 16-byte pieces, no residual or one of that type too.
bool eight_bit_rows(const ConvCase& c) {
  const IgemmOutput y8 = c.fp8 ? IgemmOutput::kFp8 : IgemmOutput::kInt8;
  const ResidualKind z8 = c.fp8 ? ResidualKind::kFp8 : ResidualKind::kInt8;
  const bool z_ok = c.z_kind == ResidualKind::kNone || (c.z_kind == z8 && c.z_stride() % 16 == 0);
  return c.y_kind == y8 && c.y_stride() % 16 == 0 && z_ok;
}

// stream_gemm.h's rule: pointwise convolutions with 64-512 input channels, a multiple of the
// tile's output channels, eight_bit_rows; and what fits in shared memory (the 128-channel
// tile's filters and two stages of 512-channel rows do not).
bool stream_takes(const ConvCase& c, int bn) {
  if (bn == 128 && c.c == 512) return false;
  const bool pointwise = c.r == 1 && c.s == 1 && c.stride_h == 1 && c.stride_w == 1 && c.pad_h == 0 && c.pad_w == 0;
  return pointwise && (c.c == 64 || c.c == 128 || c.c == 256 || c.c == 512) && c.k % bn == 0 && eight_bit_rows(c);
}

// halo_conv.h's rule: 3x3 stride-1 convolutions with padding 1 over 64 or 128 input channels,
// or 4x4 stride-1 unpadded ones over 16 (space-to-depth stems); output channels a multiple of
// 64, eight_bit_rows.
bool halo_takes(const ConvCase& c) {
  const bool unit = c.stride_h == 1 && c.stride_w == 1 && c.dil_h == 1 && c.dil_w == 1;
  const bool same3x3 = c.r == 3 && c.s == 3 && c.pad_h == 1 && c.pad_w == 1 && (c.c == 64 || c.c == 128);
  const bool stem4x4 = c.r == 4 && c.s == 4 && c.pad_h == 0 && c.pad_w == 0 && c.c == 16;
  return unit && (same3x3 || stem4x4) && c.k % 64 == 0 && eight_bit_rows(c);
}

bool is_halo_tile(int tile) { return i8::igemm_tile_name(tile).rfind("halo", 0) == 0; }

// tma_conv.h's rule: eight_bit_rows and output channels a multiple of 16 (the geometry limits,
// strides up to 8 and padding up to 128, hold for every case here).
bool tma_takes(const ConvCase& c) { return c.k % 16 == 0 && eight_bit_rows(c); }

bool is_tma_tile(int tile) { return i8::igemm_tile_name(tile).rfind("tma", 0) == 0; }

// Whether `tile` must take `c`: the general tiles take every case, the stream and halo tiles
// their own.
bool tile_takes(int tile, const ConvCase& c) {
  if (stream_channels(tile) > 0) return stream_takes(c, stream_channels(tile));
  if (is_halo_tile(tile)) return halo_takes(c);
  if (is_tma_tile(tile)) return tma_takes(c);
  return true;
}

// Runs `c` with every tile that takes it and checks each against the reference: supported
// (tile_takes), nothing written outside the output, outputs within `tolerance_for(c, tile)`.
void check_every_tile(const ConvCase& c) {
  const Operands o = make_operands(c);
  const std::vector<uint8_t> want = reference_output(c, o);
  expect_varied(c, want);
  const DeviceBuffer y = make_output_buffer(c);
  ASSERT_GT(i8::igemm_tile_count(), 0);
  for (int tile = 0; tile < i8::igemm_tile_count(); ++tile) {
    const Tolerance tolerance = tolerance_for(c, i8::igemm_tile_name(tile));
    const std::string where = fmt::format("{} tile {} ({})", c.name, tile, i8::igemm_tile_name(tile));
    ASSERT_EQ(i8::igemm_unsupported(igemm_params(c, o, y.get())), "") << where;
    const std::string why_not = i8::igemm_tile_unsupported(igemm_params(c, o, y.get()), tile);
    if (!tile_takes(tile, c)) {
      EXPECT_NE(why_not, "") << where << ": a special tile takes a case it should refuse";
      continue;
    }
    ASSERT_EQ(why_not, "") << where;
    const std::vector<uint8_t> got = run_igemm(c, o, tile, y);
    EXPECT_EQ(count_clobbered(c, got), 0) << where << ": bytes written outside [pixels, k)";
    const Comparison cmp = compare(c, got, want, tolerance);
    const std::string what = fmt::format("{}: {} of {} elements differ, {} out of tolerance; first:\n{}", where,
                                         cmp.differing, cmp.elements, cmp.out_of_tolerance, cmp.first);
    EXPECT_EQ(cmp.out_of_tolerance, 0) << what;
    EXPECT_LE(double(cmp.differing), tolerance.max_differing_fraction * double(cmp.elements)) << what;
  }
}

// ---------------------------------------------------------------------------------------
// INT8: bit for bit against direct_conv + conv_epilogue

constexpr ResidualKind kNoZ = ResidualKind::kNone, kZ8 = ResidualKind::kInt8, kZ16 = ResidualKind::kF16,
                       kZFp8 = ResidualKind::kFp8;
constexpr IgemmOutput kY8 = IgemmOutput::kInt8, kY16 = IgemmOutput::kF16, kYFp8 = IgemmOutput::kFp8;

std::vector<ConvCase> int8_cases() {
  return {
      // 1x1 stride 1: 3*17*17 = 867 pixels, several pixel tiles and a partial last one.
      {.name = "pw_c64_k256", .n = 3, .h = 17, .w = 17, .c = 64, .k = 256, .relu = true},
      {.name = "pw_c64_k256_z8_f16out", .n = 3, .h = 17, .w = 17, .c = 64, .k = 256, .z_kind = kZ8, .y_kind = kY16},
      // 3x3 pad 1 stride 1.
      {.name = "conv3x3_c64_k64_z8_relu", .n = 2, .h = 15, .w = 15, .c = 64, .k = 64, .r = 3, .s = 3, .pad_h = 1,
       .pad_w = 1, .z_kind = kZ8, .relu = true},
      {.name = "conv3x3_c64_k64_z16", .n = 2, .h = 15, .w = 15, .c = 64, .k = 64, .r = 3, .s = 3, .pad_h = 1,
       .pad_w = 1, .z_kind = kZ16},
      // 3x3 stride 2 pad 1 on odd, unequal sizes.
      {.name = "conv3x3s2_c128_k128", .n = 2, .h = 15, .w = 13, .c = 128, .k = 128, .r = 3, .s = 3, .stride_h = 2,
       .stride_w = 2, .pad_h = 1, .pad_w = 1, .relu = true},
      // 1x1 stride 2 (downsample), no relu.
      {.name = "down1x1s2_c64_k128", .n = 2, .h = 15, .w = 15, .c = 64, .k = 128, .stride_h = 2, .stride_w = 2},
      // Input channels not a multiple of the 64-byte reduction block; odd output counts.
      {.name = "conv3x3_c48_k80_z8", .n = 2, .h = 9, .w = 9, .c = 48, .k = 80, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1,
       .z_kind = kZ8},
      {.name = "pw_c80_k40_z16_relu", .n = 3, .h = 7, .w = 7, .c = 80, .k = 40, .z_kind = kZ16, .relu = true},
      {.name = "conv3x3_c16_k20_relu", .n = 2, .h = 10, .w = 10, .c = 16, .k = 20, .r = 3, .s = 3, .pad_h = 1,
       .pad_w = 1, .relu = true},
      // F16 outputs with few channels (y_stride = k), the last conv of a network.
      {.name = "conv3x3_c64_k7_f16out", .n = 2, .h = 9, .w = 9, .c = 64, .k = 7, .r = 3, .s = 3, .pad_h = 1,
       .pad_w = 1, .y_kind = kY16},
      {.name = "pw_c48_k6_z16_relu_f16out", .n = 3, .h = 11, .w = 11, .c = 48, .k = 6, .z_kind = kZ16, .relu = true,
       .y_kind = kY16},
      // Output rows wider than k: channels [k, y_stride) must be left alone.
      {.name = "pw_c48_k6_f16out_stride8", .n = 3, .h = 11, .w = 11, .c = 48, .k = 6, .y_kind = kY16, .y_extra = 2},
      {.name = "conv3x3_c32_k20_z8_stride24", .n = 2, .h = 9, .w = 9, .c = 32, .k = 20, .r = 3, .s = 3, .pad_h = 1,
       .pad_w = 1, .z_kind = kZ8, .relu = true, .y_extra = 4},
      // Dilation 2.
      {.name = "conv3x3d2_c32_k32_z8_relu", .n = 2, .h = 11, .w = 11, .c = 32, .k = 32, .r = 3, .s = 3, .pad_h = 2,
       .pad_w = 2, .dil_h = 2, .dil_w = 2, .z_kind = kZ8, .relu = true},
      // 3x1 kernel, unequal strides and paddings: r/s and h/w must not be swapped.
      {.name = "conv3x1_c32_k48_s1x2", .n = 2, .h = 12, .w = 9, .c = 32, .k = 48, .r = 3, .s = 1, .stride_h = 1,
       .stride_w = 2, .pad_h = 1, .pad_w = 0, .relu = true},
      // Space-to-depth stems: 16 input channels, four taps per reduction step (the last
      // step of the 7x7 partly past the filter's 49 taps), f16 output as before a max pool.
      {.name = "stem4x4_c16_k64_relu_f16out", .n = 2, .h = 19, .w = 19, .c = 16, .k = 64, .r = 4, .s = 4,
       .relu = true, .y_kind = kY16},
      {.name = "conv7x7s2_c16_k32_relu", .n = 2, .h = 20, .w = 20, .c = 16, .k = 32, .r = 7, .s = 7, .stride_h = 2,
       .stride_w = 2, .pad_h = 3, .pad_w = 3, .relu = true},
      // Many pixel tiles, a partial channel tile (96), a long reduction (3x3 x 128).
      {.name = "conv3x3_c128_k96_many_tiles", .n = 2, .h = 28, .w = 28, .c = 128, .k = 96, .r = 3, .s = 3, .pad_h = 1,
       .pad_w = 1, .z_kind = kZ8, .relu = true},
      // ResNet-50's deep 3x3 (the TMA tiles' shapes): a long reduction (3x3 x 256), several
      // images per 128-pixel tile.
      {.name = "conv3x3_c256_k256_14x14_relu", .n = 3, .h = 14, .w = 14, .c = 256, .k = 256, .r = 3, .s = 3,
       .pad_h = 1, .pad_w = 1, .relu = true},
  };
}

// Pointwise INT8 convolutions the stream tiles take as well (stream_gemm.h): input channels
// 64 to 512, INT8 outputs, residuals none or INT8. Enough 128-pixel tiles that each
// persistent thread block walks several, and a partial last one.
std::vector<ConvCase> stream_cases() {
  return {
      // 2 * 159 * 159 = 50562 pixels: 395 tiles, the last one of 2 rows.
      {.name = "stream_c64_k256_z8_relu_many_tiles", .n = 2, .h = 159, .w = 159, .c = 64, .k = 256, .z_kind = kZ8,
       .relu = true},
      {.name = "stream_c128_k128", .n = 3, .h = 75, .w = 75, .c = 128, .k = 128},
      {.name = "stream_c256_k64_z8_relu", .n = 2, .h = 61, .w = 61, .c = 256, .k = 64, .z_kind = kZ8, .relu = true},
      {.name = "stream_c512_k128_z8", .n = 2, .h = 23, .w = 23, .c = 512, .k = 128, .z_kind = kZ8},
      // Output rows wider than k: channels [k, y_stride) must be left alone.
      {.name = "stream_c64_k64_stride80", .n = 1, .h = 30, .w = 30, .c = 64, .k = 64, .relu = true, .y_extra = 16},
  };
}

class IgemmConvStream : public ::testing::TestWithParam<ConvCase> {};

TEST_P(IgemmConvStream, EqualsDirectConvPlusEpilogueBitForBitOnEveryTile) {
  KILN_SKIP_WITHOUT_GPU();
  const ConvCase& c = GetParam();
  ASSERT_TRUE(stream_takes(c, 64)) << c.name << " is not a case for the stream tiles";
  check_every_tile(c);
}

INSTANTIATE_TEST_SUITE_P(Shapes, IgemmConvStream, ::testing::ValuesIn(stream_cases()), case_name);

// Convolutions the halo tile takes as well: 3x3 at ResNet-50's widths (56, 28) and 4x4 stems,
// enough tiles that each persistent thread block walks several, odd sizes, residuals none and
// INT8.
std::vector<ConvCase> halo_cases() {
  return {
      // 16 * 58 * 58 padded positions: 421 tiles.
      {.name = "halo_c64_k64_z8_relu_56x56", .n = 16, .h = 56, .w = 56, .c = 64, .k = 64, .r = 3, .s = 3, .pad_h = 1,
       .pad_w = 1, .z_kind = kZ8, .relu = true},
      {.name = "halo_c128_k128_relu_28x28", .n = 3, .h = 28, .w = 28, .c = 128, .k = 128, .r = 3, .s = 3, .pad_h = 1,
       .pad_w = 1, .relu = true},
      {.name = "halo_c128_k64_z8_13x9", .n = 2, .h = 13, .w = 9, .c = 128, .k = 64, .r = 3, .s = 3, .pad_h = 1,
       .pad_w = 1, .z_kind = kZ8},
      {.name = "halo_c64_k192_7x7_stride208", .n = 5, .h = 7, .w = 7, .c = 64, .k = 192, .r = 3, .s = 3, .pad_h = 1,
       .pad_w = 1, .relu = true, .y_extra = 16},
      // Space-to-depth stems: 4x4 unpadded over 16 channels, ResNet-50's width (115 -> 112),
      // 16 * 115 * 115 positions (1654 tiles), and a small odd one with a residual.
      {.name = "halo_stem4x4_c16_k64_relu_115", .n = 16, .h = 115, .w = 115, .c = 16, .k = 64, .r = 4, .s = 4,
       .relu = true},
      {.name = "halo_stem4x4_c16_k128_z8_13x11", .n = 3, .h = 13, .w = 11, .c = 16, .k = 128, .r = 4, .s = 4,
       .z_kind = kZ8},
  };
}

class IgemmConvHalo : public ::testing::TestWithParam<ConvCase> {};

TEST_P(IgemmConvHalo, EqualsDirectConvPlusEpilogueBitForBitOnEveryTile) {
  KILN_SKIP_WITHOUT_GPU();
  const ConvCase& c = GetParam();
  ASSERT_TRUE(halo_takes(c)) << c.name << " is not a case for the halo tile";
  check_every_tile(c);
}

INSTANTIATE_TEST_SUITE_P(Shapes, IgemmConvHalo, ::testing::ValuesIn(halo_cases()), case_name);

class IgemmConvInt8 : public ::testing::TestWithParam<ConvCase> {};

TEST_P(IgemmConvInt8, EqualsDirectConvPlusEpilogueBitForBit) {
  KILN_SKIP_WITHOUT_GPU();
  check_every_tile(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shapes, IgemmConvInt8, ::testing::ValuesIn(int8_cases()), case_name);

// ---------------------------------------------------------------------------------------
// FP8 (compute capability 8.9+): within one E4M3 step of direct_conv_fp8 + conv_epilogue

bool device_has_fp8(std::string* why) {
  cudaDeviceProp prop{};
  KILN_CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  if (prop.major * 10 + prop.minor >= 89) return true;
  *why = fmt::format("{} (compute capability {}.{}) has no FP8 tensor cores", prop.name, prop.major, prop.minor);
  return false;
}

std::vector<ConvCase> fp8_cases() {
  return {
      {.name = "fp8_pw_c64_k256_relu", .fp8 = true, .n = 3, .h = 17, .w = 17, .c = 64, .k = 256, .relu = true,
       .y_kind = kYFp8},
      {.name = "fp8_conv3x3_c64_k64_zfp8_relu", .fp8 = true, .n = 2, .h = 15, .w = 15, .c = 64, .k = 64, .r = 3,
       .s = 3, .pad_h = 1, .pad_w = 1, .z_kind = kZFp8, .relu = true, .y_kind = kYFp8},
      {.name = "fp8_conv3x3s2_c128_k128_z16", .fp8 = true, .n = 2, .h = 15, .w = 13, .c = 128, .k = 128, .r = 3,
       .s = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .z_kind = kZ16, .y_kind = kYFp8},
      {.name = "fp8_down1x1s2_c16_k48_zfp8_relu", .fp8 = true, .n = 2, .h = 15, .w = 15, .c = 16, .k = 48,
       .stride_h = 2, .stride_w = 2, .z_kind = kZFp8, .relu = true, .y_kind = kYFp8},
      {.name = "fp8_conv3x3_c48_k80_f16out", .fp8 = true, .n = 2, .h = 9, .w = 9, .c = 48, .k = 80, .r = 3, .s = 3,
       .pad_h = 1, .pad_w = 1, .y_kind = kY16},
      {.name = "fp8_pw_c80_k40_z16_relu_f16out", .fp8 = true, .n = 3, .h = 7, .w = 7, .c = 80, .k = 40,
       .z_kind = kZ16, .relu = true, .y_kind = kY16},
      {.name = "fp8_conv3x3d2_c32_k7_z16_f16out", .fp8 = true, .n = 2, .h = 11, .w = 11, .c = 32, .k = 7, .r = 3,
       .s = 3, .pad_h = 2, .pad_w = 2, .dil_h = 2, .dil_w = 2, .z_kind = kZ16, .y_kind = kY16},
      // An FP8 residual into an f16 output (the fixed epilogue of a network's last convolution).
      {.name = "fp8_pw_c64_k128_zfp8_f16out", .fp8 = true, .n = 2, .h = 13, .w = 13, .c = 64, .k = 128,
       .z_kind = kZFp8, .y_kind = kY16},
      // Cases of the stream tiles (pointwise, 64-512 channels) and of the halo tile (3x3 same,
      // space-to-depth stems): several 128-pixel tiles per persistent block, partial last ones.
      {.name = "fp8_stream_c64_k256_zfp8_relu_many_tiles", .fp8 = true, .n = 2, .h = 81, .w = 81, .c = 64, .k = 256,
       .z_kind = kZFp8, .relu = true, .y_kind = kYFp8},
      {.name = "fp8_stream_c256_k128", .fp8 = true, .n = 2, .h = 41, .w = 41, .c = 256, .k = 128, .y_kind = kYFp8},
      {.name = "fp8_stream_c512_k64_zfp8_stride80", .fp8 = true, .n = 2, .h = 23, .w = 23, .c = 512, .k = 64,
       .z_kind = kZFp8, .relu = true, .y_kind = kYFp8, .y_extra = 16},
      {.name = "fp8_halo_c64_k64_zfp8_relu_56x56", .fp8 = true, .n = 4, .h = 56, .w = 56, .c = 64, .k = 64, .r = 3,
       .s = 3, .pad_h = 1, .pad_w = 1, .z_kind = kZFp8, .relu = true, .y_kind = kYFp8},
      {.name = "fp8_halo_c128_k128_relu_13x9", .fp8 = true, .n = 3, .h = 13, .w = 9, .c = 128, .k = 128, .r = 3,
       .s = 3, .pad_h = 1, .pad_w = 1, .relu = true, .y_kind = kYFp8},
      {.name = "fp8_halo_stem4x4_c16_k64_relu_115", .fp8 = true, .n = 4, .h = 115, .w = 115, .c = 16, .k = 64,
       .r = 4, .s = 4, .relu = true, .y_kind = kYFp8},
      // ResNet-50's 7x7 stage: 3x3 over 512 channels, an FP8 residual, and its stride-2
      // entry from 14x14.
      {.name = "fp8_conv3x3_c512_k512_7x7_zfp8_relu", .fp8 = true, .n = 3, .h = 7, .w = 7, .c = 512, .k = 512,
       .r = 3, .s = 3, .pad_h = 1, .pad_w = 1, .z_kind = kZFp8, .relu = true, .y_kind = kYFp8},
      // More tiles than the persistent TMA tiles' blocks (264 or 132): blocks walk several,
      // each with its own residual rows.
      {.name = "fp8_pw_c128_k256_zfp8_relu_many_tiles", .fp8 = true, .n = 6, .h = 56, .w = 56, .c = 128, .k = 256,
       .z_kind = kZFp8, .relu = true, .y_kind = kYFp8},
      {.name = "fp8_conv3x3s2_c256_k256_14x14", .fp8 = true, .n = 3, .h = 14, .w = 14, .c = 256, .k = 256, .r = 3,
       .s = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .relu = true, .y_kind = kYFp8},
  };
}

class IgemmConvFp8 : public ::testing::TestWithParam<ConvCase> {};

TEST_P(IgemmConvFp8, WithinOneE4m3StepOfDirectConvPlusEpilogue) {
  KILN_SKIP_WITHOUT_GPU();
  std::string why;
  if (!device_has_fp8(&why)) GTEST_SKIP() << why;
  check_every_tile(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shapes, IgemmConvFp8, ::testing::ValuesIn(fp8_cases()), case_name);

// ---------------------------------------------------------------------------------------
// Grid math: one convolution at batch 1 and batch 4 in the same buffers

// 3x3 stride 2 on 23x23: 144 output pixels per image, so batch 1 already spans two
// 128-pixel tiles and batch 4 (576) ends in a partial one. Batch 1 must write exactly the
// first image's rows (the rest of the batch-4 buffer keeps its sentinel), batch 4 all.
TEST(IgemmConvBatch, BatchOneAndFourInTheSameBuffers) {
  KILN_SKIP_WITHOUT_GPU();
  const ConvCase four{.name = "batch_conv3x3s2_c32_k48", .n = 4, .h = 23, .w = 23, .c = 32, .k = 48, .r = 3,
                      .s = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .z_kind = kZ8, .relu = true};
  ConvCase one = four;
  one.n = 1;
  const Operands o = make_operands(four);  // batch 1 reads the first image and residual rows
  const std::vector<uint8_t> want_one = reference_output(one, o), want_four = reference_output(four, o);
  const DeviceBuffer y = make_output_buffer(four);
  for (int tile = 0; tile < i8::igemm_tile_count(); ++tile) {
    if (!tile_takes(tile, four)) continue;  // 3x3 stride 2: not a stream or halo tile's case
    for (const ConvCase* c : std::initializer_list<const ConvCase*>{&one, &four, &one}) {
      const std::string where = fmt::format("batch {} tile {} ({})", c->n, tile, i8::igemm_tile_name(tile));
      ASSERT_EQ(i8::igemm_unsupported(igemm_params(*c, o, y.get())), "") << where;
      const std::vector<uint8_t> got = run_igemm(*c, o, tile, y);
      EXPECT_EQ(count_clobbered(*c, got), 0) << where << ": bytes written past the batch's rows";
      const Comparison cmp = compare(*c, got, c->n == 1 ? want_one : want_four, kExact);
      EXPECT_EQ(cmp.differing, 0) << where << ": " << cmp.differing << " of " << cmp.elements << " differ:\n"
                                  << cmp.first;
    }
  }
}

// ---------------------------------------------------------------------------------------
// What igemm_conv refuses (host-side check, no GPU needed)

TEST(IgemmConvSupport, RejectsInputChannelsNotAMultipleOf16) {
  static float dummy[64];  // never dereferenced: only the parameters are checked
  IgemmConvParams p;
  p.n = 1, p.h = p.w = 8, p.ho = p.wo = 8, p.k = 16, p.r = p.s = 1;
  p.scale = p.bias = dummy;
  p.y = dummy;
  p.y_stride = 16;
  p.y_kind = IgemmOutput::kInt8;
  p.c = 16;
  EXPECT_EQ(i8::igemm_unsupported(p), "") << "the same convolution with 16 channels is supported";
  for (int c : {8, 24}) {
    p.c = c;
    EXPECT_NE(i8::igemm_unsupported(p), "") << c << " input channels accepted";
  }
}

// Filters over 16x16 (the kernel keeps a bit per filter row and column) and output sizes the
// padded input cannot give (unpadded convolutions skip the bounds tests) are refused.
TEST(IgemmConvSupport, RejectsLargeFiltersAndOutputsPastTheInput) {
  static float dummy[64];
  IgemmConvParams p;
  p.n = 1, p.h = p.w = 20, p.c = 16, p.k = 16, p.r = p.s = 3, p.ho = p.wo = 18;
  p.scale = p.bias = dummy;
  p.y = dummy;
  p.y_stride = 16;
  p.y_kind = IgemmOutput::kInt8;
  EXPECT_EQ(i8::igemm_unsupported(p), "") << "3x3 over 20x20 to 18x18";
  p.ho = 19;
  EXPECT_NE(i8::igemm_unsupported(p), "") << "19 output rows from 20 input rows with a 3x3 filter and no padding";
  p.pad_h = 1;
  EXPECT_EQ(i8::igemm_unsupported(p), "") << "the same with one row of padding";
  p.pad_h = 0, p.ho = 18;
  p.r = 17, p.h = 40, p.ho = 24;
  EXPECT_NE(i8::igemm_unsupported(p), "") << "17x3 filter";
}

// The stream tiles take pointwise INT8 or FP8 convolutions with 64-512 input channels, whole
// blocks of output channels and outputs (residuals) of the operands' type only, and say why
// not otherwise.
TEST(IgemmConvSupport, StreamTilesTakePointwise8BitOnly) {
  alignas(16) static float dummy[256];
  IgemmConvParams p;
  p.n = 2, p.h = p.w = p.ho = p.wo = 14, p.c = 64, p.k = 128, p.r = p.s = 1;
  p.scale = p.bias = dummy;
  p.y = dummy;
  p.y_stride = 128;
  p.y_kind = IgemmOutput::kInt8;
  for (int bn : i8::kStreamTileChannels) EXPECT_EQ(i8::stream_gemm_unsupported(p, bn), "") << bn;
  auto refused = [&](const char* what, auto&& change) {
    IgemmConvParams q = p;
    change(q);
    for (int bn : i8::kStreamTileChannels) EXPECT_NE(i8::stream_gemm_unsupported(q, bn), "") << what << ", " << bn;
  };
  refused("3x3", [](IgemmConvParams& q) { q.r = q.s = 3, q.pad_h = q.pad_w = 1; });
  refused("stride 2", [](IgemmConvParams& q) { q.stride_h = q.stride_w = 2, q.ho = q.wo = 7; });
  refused("FP8 operands, INT8 output", [](IgemmConvParams& q) { q.fp8 = true; });
  refused("INT8 operands, FP8 residual",
          [](IgemmConvParams& q) { q.z = dummy, q.z_kind = ResidualKind::kFp8, q.z_stride = 128; });
  refused("FP8 operands, INT8 residual", [](IgemmConvParams& q) {
    q.fp8 = true, q.y_kind = IgemmOutput::kFp8, q.z = dummy, q.z_kind = ResidualKind::kInt8, q.z_stride = 128;
  });
  refused("f16 output", [](IgemmConvParams& q) { q.y_kind = IgemmOutput::kF16; });
  refused("f16 residual", [](IgemmConvParams& q) { q.z = dummy, q.z_kind = ResidualKind::kF16, q.z_stride = 128; });
  IgemmConvParams fp8 = p;
  fp8.fp8 = true, fp8.y_kind = IgemmOutput::kFp8, fp8.z = dummy, fp8.z_kind = ResidualKind::kFp8, fp8.z_stride = 128;
  for (int bn : i8::kStreamTileChannels) EXPECT_EQ(i8::stream_gemm_unsupported(fp8, bn), "") << "FP8, " << bn;
  refused("80 input channels", [](IgemmConvParams& q) { q.c = 80; });
  refused("1024 input channels", [](IgemmConvParams& q) { q.c = 1024; });
  refused("96 output channels", [](IgemmConvParams& q) { q.k = 96, q.y_stride = 96; });
  refused("output rows of 136 bytes", [](IgemmConvParams& q) { q.y_stride = 136; });
  refused("misaligned scales", [](IgemmConvParams& q) { q.scale = dummy + 1; });
}

// The halo tile takes 3x3 stride-1 INT8 or FP8 convolutions with padding 1 over 64 or 128
// channels and 4x4 unpadded ones over 16 only, and says why not otherwise.
TEST(IgemmConvSupport, HaloTileTakesSame3x3AndStemsOnly) {
  alignas(16) static float dummy[256];
  IgemmConvParams p;
  p.n = 2, p.h = p.w = p.ho = p.wo = 28, p.c = 64, p.k = 128, p.r = p.s = 3, p.pad_h = p.pad_w = 1;
  p.scale = p.bias = dummy;
  p.y = dummy;
  p.y_stride = 128;
  p.y_kind = IgemmOutput::kInt8;
  EXPECT_EQ(i8::halo_conv_unsupported(p), "");
  auto refused = [&](const char* what, auto&& change) {
    IgemmConvParams q = p;
    change(q);
    EXPECT_NE(i8::halo_conv_unsupported(q), "") << what;
  };
  refused("1x1", [](IgemmConvParams& q) { q.r = q.s = 1, q.pad_h = q.pad_w = 0; });
  refused("stride 2", [](IgemmConvParams& q) { q.stride_h = q.stride_w = 2, q.ho = q.wo = 14; });
  refused("dilation 2", [](IgemmConvParams& q) { q.dil_h = q.dil_w = 2, q.pad_h = q.pad_w = 2; });
  refused("FP8 operands, INT8 output", [](IgemmConvParams& q) { q.fp8 = true; });
  refused("INT8 operands, FP8 output", [](IgemmConvParams& q) { q.y_kind = IgemmOutput::kFp8; });
  refused("f16 output", [](IgemmConvParams& q) { q.y_kind = IgemmOutput::kF16; });
  refused("256 input channels", [](IgemmConvParams& q) { q.c = 256; });
  refused("96 output channels", [](IgemmConvParams& q) { q.k = 96, q.y_stride = 96; });
  refused("rows too wide for shared memory", [](IgemmConvParams& q) { q.w = q.wo = 4000; });
  refused("16 channels, 3x3", [](IgemmConvParams& q) { q.c = 16; });
  IgemmConvParams stem = p;
  stem.c = 16, stem.r = stem.s = 4, stem.pad_h = stem.pad_w = 0, stem.ho = stem.wo = 25;
  EXPECT_EQ(i8::halo_conv_unsupported(stem), "") << "the 4x4 space-to-depth stem";
  IgemmConvParams fp8 = stem;
  fp8.fp8 = true, fp8.y_kind = IgemmOutput::kFp8;
  EXPECT_EQ(i8::halo_conv_unsupported(fp8), "") << "the stem in FP8";
  stem.pad_h = stem.pad_w = 1, stem.ho = stem.wo = 27;
  EXPECT_NE(i8::halo_conv_unsupported(stem), "") << "a padded 4x4";
}

// The TMA tiles take INT8 or FP8 convolutions with an output (and residual, if any) of the
// operands' type in 16-byte rows, over any window geometry the TMA's im2col box expresses, and
// say why not otherwise. The refusals come before the driver is asked for its tensor-map
// encoder, so they hold without a GPU; taking a case needs that encoder (checked with a GPU).
TEST(IgemmConvSupport, TmaTilesTake8BitOutputsOnly) {
  alignas(16) static float dummy[256];
  IgemmConvParams p;
  p.n = 2, p.h = p.w = p.ho = p.wo = 14, p.c = 256, p.k = 256, p.r = p.s = 3, p.pad_h = p.pad_w = 1;
  p.scale = p.bias = dummy;
  p.y = dummy;
  p.y_stride = 256;
  p.y_kind = IgemmOutput::kInt8;
  if (::kiln::cuda::cuda_device_count() > 0) {
    EXPECT_EQ(i8::tma_conv_unsupported(p), "");
    IgemmConvParams fp8 = p;
    fp8.fp8 = true, fp8.y_kind = IgemmOutput::kFp8, fp8.z = dummy, fp8.z_kind = ResidualKind::kFp8, fp8.z_stride = 256;
    EXPECT_EQ(i8::tma_conv_unsupported(fp8), "") << "FP8 with an FP8 residual";
  }
  auto refused = [&](const char* what, auto&& change) {
    IgemmConvParams q = p;
    change(q);
    EXPECT_NE(i8::tma_conv_unsupported(q), "") << what;
  };
  refused("f16 output", [](IgemmConvParams& q) { q.y_kind = IgemmOutput::kF16; });
  refused("FP8 operands, INT8 output", [](IgemmConvParams& q) { q.fp8 = true; });
  refused("INT8 operands, FP8 residual",
          [](IgemmConvParams& q) { q.z = dummy, q.z_kind = ResidualKind::kFp8, q.z_stride = 256; });
  refused("f16 residual", [](IgemmConvParams& q) { q.z = dummy, q.z_kind = ResidualKind::kF16, q.z_stride = 256; });
  refused("40 output channels", [](IgemmConvParams& q) { q.k = 40, q.y_stride = 48; });
  refused("output rows of 264 bytes", [](IgemmConvParams& q) { q.y_stride = 264; });
  refused("misaligned scales", [](IgemmConvParams& q) { q.scale = dummy + 1; });
  refused("stride 9", [](IgemmConvParams& q) { q.stride_h = q.stride_w = 9, q.ho = q.wo = 2; });
  refused("padding 200: beyond the im2col box's corners",
          [](IgemmConvParams& q) { q.pad_h = q.pad_w = 200, q.ho = q.wo = 412; });
}

// Plans name igemm tiles; the name must lead back to the same tile, and an unknown name
// (a plan from a build with other tiles) must be recognizable.
TEST(IgemmConvSupport, TileNamesRoundTrip) {
  ASSERT_GT(i8::igemm_tile_count(), 0);
  for (int tile = 0; tile < i8::igemm_tile_count(); ++tile)
    EXPECT_EQ(i8::igemm_tile_index(i8::igemm_tile_name(tile)), tile) << i8::igemm_tile_name(tile);
  EXPECT_EQ(i8::igemm_tile_index("no such tile"), -1);
}

}  // namespace
}  // namespace kiln::cuda_test

#endif  // KILN_HAVE_CUDA
