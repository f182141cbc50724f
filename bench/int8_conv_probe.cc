// INT8 / FP8 convolution probe: for the ResNet-50 v1.5 convolution shapes, builds each
// tactic family of Int8ConvOp through the same code the op uses (int8/cudnn_int8_graph.h,
// int8/imma_gemm.h, the legacy cuDNN call + epilogue kernel), times it with CUDA events
// (3 warm-ups, median of 20) and prints one line per shape and family with ms and TOPS,
// beside cuDNN's FP16 cudnnConvolutionBiasActivationForward for the same shape. Each fused
// family's INT8 output is compared with the legacy path's (exact) output: "diff" is the
// largest difference in LSB and the fraction of elements that differ.
//
// igemm: kiln's implicit-GEMM kernel with the epilogue fused (int8/igemm_conv.h), timed
// with each of its tiles; the fastest is reported (the tile in "detail", every tile under
// "tiles" in the JSON). It takes input channels in multiples of 16, so not the stem. Its
// INT8 output must equal the legacy path's ("diff" 0).
//
// FP8 E4M3 families (names prefixed fp8_): the cuDNN graph with E4M3 x/w, FLOAT compute and
// the same fused epilogue (clamped to +-448) writing E4M3; fp8_igemm, the kernel above with
// E4M3 operands and f32 sums (compute capability 8.9+); and for 1x1 stride-1 shapes without
// residual cuBLASLt's FP8 GEMM (D scale, f16 bias) with each per-channel scaling scheme of
// imma_gemm.h, plus one without per-channel scales (does an FP8 GEMM run at all). Their E4M3
// outputs are compared with kiln's direct FP8 kernel + epilogue (f32 sums in channel order):
// "diff" counts E4M3 code steps. The stem (3 channels) stays FP16 in engines, so it has no
// FP8 rows.
//
//   int8_conv_probe OUT.json [BATCH=256] [all|int8|fp8|fp8gemm]
//
// KILN_PROBE_SHAPES="s1 1x1,s3 3x3" keeps the shapes whose names contain one of the
// comma-separated pieces (for a profiler run on one shape). Each shape also gets a "memcpy"
// row: a device-to-device copy moving as many bytes as the INT8 convolution must (input,
// residual and output once each), the memory roofline in the same conditions.
//
// A family that fails prints its error and the probe goes on.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nlohmann/json.hpp>

#include "backends/cuda/int8/cudnn_int8_graph.h"
#include "backends/cuda/int8/igemm_conv.h"
#include "backends/cuda/int8/imma_gemm.h"
#include "backends/cuda/int8/int8_kernels.h"
#include "core/error.h"
#include "quant/fp8.h"

namespace {

using namespace kiln::cuda;

struct Shape {
  const char* name;
  int64_t c, h, k, r, stride, pad;
  bool residual, relu;
};

// ResNet-50 v1.5 (stride 2 on the 3x3 of the first bottleneck of stages 2-4).
const Shape kShapes[] = {
    {"stem 7x7/2 3(4)->64", 4, 224, 64, 7, 2, 3, false, true},
    {"s1 1x1 64->64", 64, 56, 64, 1, 1, 0, false, true},
    {"s1 3x3 64->64", 64, 56, 64, 3, 1, 1, false, true},
    {"s1 1x1 64->256 +res", 64, 56, 256, 1, 1, 0, true, true},
    {"s1 down 1x1 64->256", 64, 56, 256, 1, 1, 0, false, false},
    {"s1 1x1 256->64", 256, 56, 64, 1, 1, 0, false, true},
    {"s2 1x1 256->128", 256, 56, 128, 1, 1, 0, false, true},
    {"s2 3x3/2 128->128", 128, 56, 128, 3, 2, 1, false, true},
    {"s2 3x3 128->128", 128, 28, 128, 3, 1, 1, false, true},
    {"s2 1x1 128->512 +res", 128, 28, 512, 1, 1, 0, true, true},
    {"s2 down 1x1/2 256->512", 256, 56, 512, 1, 2, 0, false, false},
    {"s2 1x1 512->128", 512, 28, 128, 1, 1, 0, false, true},
    {"s3 1x1 512->256", 512, 28, 256, 1, 1, 0, false, true},
    {"s3 3x3/2 256->256", 256, 28, 256, 3, 2, 1, false, true},
    {"s3 3x3 256->256", 256, 14, 256, 3, 1, 1, false, true},
    {"s3 1x1 256->1024 +res", 256, 14, 1024, 1, 1, 0, true, true},
    {"s3 down 1x1/2 512->1024", 512, 28, 1024, 1, 2, 0, false, false},
    {"s3 1x1 1024->256", 1024, 14, 256, 1, 1, 0, false, true},
    {"s4 1x1 1024->512", 1024, 14, 512, 1, 1, 0, false, true},
    {"s4 3x3/2 512->512", 512, 14, 512, 3, 2, 1, false, true},
    {"s4 3x3 512->512", 512, 7, 512, 3, 1, 1, false, true},
    {"s4 1x1 512->2048 +res", 512, 7, 2048, 1, 1, 0, true, true},
    {"s4 down 1x1/2 1024->2048", 1024, 14, 2048, 1, 2, 0, false, false},
    {"s4 1x1 2048->512", 2048, 7, 512, 1, 1, 0, false, true},
};

#define CHECK_CUDA(x)                                                                               \
  do {                                                                                              \
    cudaError_t e_ = (x);                                                                           \
    if (e_ != cudaSuccess) kiln::fail("{}:{}: {}: {}", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
  } while (0)
#define CHECK_CUDNN(x)                                                                               \
  do {                                                                                               \
    cudnnStatus_t s_ = (x);                                                                          \
    if (s_ != CUDNN_STATUS_SUCCESS) kiln::fail("{}:{}: {}: {}", __FILE__, __LINE__, #x, cudnnGetErrorString(s_)); \
  } while (0)

struct DeviceBuf {
  void* p = nullptr;
  explicit DeviceBuf(size_t bytes) { CHECK_CUDA(cudaMalloc(&p, std::max<size_t>(bytes, 256))); }
  ~DeviceBuf() { cudaFree(p); }
  template <typename T> T* as() const { return static_cast<T*>(p); }
};

void upload_random_i8(const DeviceBuf& b, size_t n, uint32_t seed, int lo, int hi) {
  std::vector<int8_t> h(n);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  for (auto& v : h) v = static_cast<int8_t>(d(rng));
  CHECK_CUDA(cudaMemcpy(b.p, h.data(), n, cudaMemcpyHostToDevice));
}

// Median ms of `fn` over 20 runs after 3 warm-ups, each run between two events.
double time_ms(cudaStream_t stream, const std::function<void()>& fn) {
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) fn();
  CHECK_CUDA(cudaStreamSynchronize(stream));
  std::vector<float> t;
  for (int i = 0; i < 20; ++i) {
    CHECK_CUDA(cudaEventRecord(a, stream));
    fn();
    CHECK_CUDA(cudaEventRecord(b, stream));
    CHECK_CUDA(cudaEventSynchronize(b));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void upload_random_e4m3(const DeviceBuf& b, size_t n, uint32_t seed, float range) {
  std::vector<uint8_t> h(n);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-range, range);
  for (auto& v : h) v = kiln::quant::float_to_e4m3(d(rng));
  CHECK_CUDA(cudaMemcpy(b.p, h.data(), n, cudaMemcpyHostToDevice));
}

// Largest distance in E4M3 code steps (codes ordered as sign-magnitude integers) and the
// fraction of differing elements of two E4M3 device buffers.
std::pair<int, double> compare_e4m3(const DeviceBuf& a, const DeviceBuf& b, size_t n) {
  std::vector<uint8_t> ha(n), hb(n);
  CHECK_CUDA(cudaMemcpy(ha.data(), a.p, n, cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(hb.data(), b.p, n, cudaMemcpyDeviceToHost));
  auto ordered = [](uint8_t c) { return c & 0x80 ? -int(c & 0x7f) : int(c); };
  int worst = 0;
  size_t differ = 0;
  for (size_t i = 0; i < n; ++i) {
    const int d = std::abs(ordered(ha[i]) - ordered(hb[i]));
    worst = std::max(worst, d);
    differ += d != 0;
  }
  return {worst, n ? double(differ) / double(n) : 0.0};
}

// Largest |a-b| and the fraction of differing elements of two int8 device buffers.
std::pair<int, double> compare_i8(const DeviceBuf& a, const DeviceBuf& b, size_t n) {
  std::vector<int8_t> ha(n), hb(n);
  CHECK_CUDA(cudaMemcpy(ha.data(), a.p, n, cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(hb.data(), b.p, n, cudaMemcpyDeviceToHost));
  int worst = 0;
  size_t differ = 0;
  for (size_t i = 0; i < n; ++i) {
    const int d = std::abs(int(ha[i]) - int(hb[i]));
    worst = std::max(worst, d);
    differ += d != 0;
  }
  return {worst, n ? double(differ) / double(n) : 0.0};
}


using Report = std::function<void(const std::string&, double, const std::string&)>;
using ReportError = std::function<void(const std::string&, const std::string&)>;

// igemm_conv's parameters for a shape at batch n: NHWC x with sh.c channels, KRSC w, rows of
// sh.k channels for the residual and the output. The epilogue fields are the caller's.
int8::IgemmConvParams igemm_params(const Shape& sh, int64_t n, int64_t ho) {
  int8::IgemmConvParams p;
  p.n = static_cast<int>(n);
  p.h = p.w = static_cast<int>(sh.h);
  p.c = static_cast<int>(sh.c);
  p.k = static_cast<int>(sh.k);
  p.r = p.s = static_cast<int>(sh.r);
  p.ho = p.wo = static_cast<int>(ho);
  p.pad_h = p.pad_w = static_cast<int>(sh.pad);
  p.stride_h = p.stride_w = static_cast<int>(sh.stride);
  p.z_stride = p.y_stride = static_cast<int>(sh.k);
  return p;
}

// Times igemm_conv with every tile and reports the fastest as `family`; `diff_note` compares
// the output with the family's reference.
void probe_igemm(const std::string& family, const Shape& sh, const int8::IgemmConvParams& p, const DeviceBuf& x,
                 const DeviceBuf& w, cudaStream_t stream, const std::function<std::string()>& diff_note,
                 const Report& report, const ReportError& report_error, nlohmann::json& row) {
  if (const std::string why = int8::igemm_unsupported(p); !why.empty()) {
    report_error(family, why);
    return;
  }
  double best = -1;
  std::string best_detail;
  nlohmann::json tried = nlohmann::json::array();
  for (int tile = 0; tile < int8::igemm_tile_count(); ++tile) {
    const std::string name = int8::igemm_tile_name(tile);
    if (!int8::igemm_tile_unsupported(p, tile).empty()) continue;  // a tile for other shapes
    try {
      const double ms = time_ms(stream, [&] { CHECK_CUDA(int8::igemm_conv(p, tile, x.p, w.p, stream)); });
      const std::string d = fmt::format("tile {} {}", name, diff_note());
      std::printf("%-26s %-14s   candidate %8.3f ms  %s\n", sh.name, family.c_str(), ms, d.c_str());
      tried.push_back({{"tile", name}, {"ms", ms}, {"detail", d}});
      if (best < 0 || ms < best) {
        best = ms;
        best_detail = d;
      }
    } catch (const kiln::Error& e) {
      std::printf("%-26s %-14s   candidate %s FAILED: %s\n", sh.name, family.c_str(), name.c_str(), e.what());
      tried.push_back({{"tile", name}, {"error", e.what()}});
      cudaGetLastError();
    }
  }
  if (best > 0) report(family, best, best_detail);
  else report_error(family, "every tile failed");
  row[family]["tiles"] = tried;
}

// FP8 tensor cores (mma with E4M3 operands): compute capability 8.9 and later.
bool fp8_tensor_cores(std::string* why) {
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  if (prop.major * 10 + prop.minor >= 89) return true;
  *why = fmt::format("{} (compute capability {}.{}) has no FP8 tensor cores", prop.name, prop.major, prop.minor);
  return false;
}

// The FP8 families of one shape (see the header comment).
void probe_fp8(const Shape& sh, int64_t n, int64_t ho, bool with_graph, cudaStream_t stream, cudnnHandle_t cudnn, cublasLtHandle_t lt,
               const DeviceBuf& ws, size_t ws_bytes, const Report& report, const ReportError& report_error,
               nlohmann::json& row) {
  const size_t x_n = size_t(n) * sh.h * sh.h * sh.c, w_n = size_t(sh.k) * sh.r * sh.r * sh.c,
               y_n = size_t(n) * ho * ho * sh.k;
  DeviceBuf x(x_n), w(w_n), z(y_n), y_ref(y_n), y(y_n), acc(y_n * 4), consts(sh.k * 4 * 8);
  upload_random_e4m3(x, x_n, 11, 2.0f);
  upload_random_e4m3(w, w_n, 12, 1.0f);
  upload_random_e4m3(z, y_n, 13, 4.0f);
  // Sums of C*R*S products of |x| <= 2, |w| <= 1: scale ~ 4/sqrt(C*R*S) puts outputs at a few
  // units, well inside E4M3's range, with bias +-5.
  std::vector<float> hc(sh.k * 2);
  std::mt19937 rng(14);
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  for (int64_t i = 0; i < sh.k; ++i) {
    hc[i] = 4.0f * u(rng) / std::sqrt(float(sh.c * sh.r * sh.r));
    hc[sh.k + i] = (u(rng) - 1.0f) * 10.0f;
  }
  float* scale = consts.as<float>();
  float* bias = scale + sh.k;
  float* folded = scale + 2 * sh.k;  // scale', bias', z_scale'
  void* bias16 = scale + 5 * sh.k;
  float* d_scale = scale + 6 * sh.k;
  CHECK_CUDA(cudaMemcpy(scale, hc.data(), hc.size() * 4, cudaMemcpyHostToDevice));
  const float z_scale = 0.5f;
  CHECK_CUDA(int8::fold_epilogue_constants(scale, bias, static_cast<int>(sh.k), 1.0f, z_scale, folded, folded + sh.k,
                                           folded + 2 * sh.k, stream));
  CHECK_CUDA(int8::fp8_gemm_constants(bias, static_cast<int>(sh.k), 1.0f, bias16, d_scale, stream));

  // Reference: the direct FP8 kernel and the epilogue kernel (not timed: one thread per output).
  try {
    int8::DirectConvParams dp;
    dp.n = static_cast<int>(n);
    dp.h = dp.w = static_cast<int>(sh.h);
    dp.c = static_cast<int>(sh.c);
    dp.k = static_cast<int>(sh.k);
    dp.r = dp.s = static_cast<int>(sh.r);
    dp.ho = dp.wo = static_cast<int>(ho);
    dp.pad_h = dp.pad_w = static_cast<int>(sh.pad);
    dp.stride_h = dp.stride_w = static_cast<int>(sh.stride);
    CHECK_CUDA(int8::direct_conv_fp8(dp, x.as<uint8_t>(), w.as<uint8_t>(), acc.as<float>(), stream));
    int8::EpilogueParams ep;
    ep.pixels = n * ho * ho;
    ep.k = ep.k_pad = static_cast<int>(sh.k);
    ep.acc = acc.as<float>();
    ep.scale = scale;
    ep.bias = bias;
    ep.z = sh.residual ? z.p : nullptr;
    ep.z_kind = sh.residual ? int8::ResidualKind::kFp8 : int8::ResidualKind::kNone;
    ep.z_scale = z_scale;
    ep.relu = sh.relu;
    ep.y = y_ref.p;
    ep.y_int8 = false;
    ep.y_fp8 = true;
    CHECK_CUDA(int8::conv_epilogue(ep, stream));
    CHECK_CUDA(cudaStreamSynchronize(stream));
  } catch (const kiln::Error& e) {
    report_error("fp8_reference", e.what());
    cudaGetLastError();
    return;
  }
  auto diff_note = [&]() {
    const auto [worst, frac] = compare_e4m3(y, y_ref, y_n);
    return fmt::format("diff max {} code steps on {:.4f}% of elements", worst, 100 * frac);
  };

  if (with_graph) try {
    int8::FusedConvSpec sp;
    sp.io_type = CUDNN_DATA_FP8_E4M3;
    sp.compute_type = CUDNN_DATA_FLOAT;
    sp.n = n;
    sp.c = sh.c;
    sp.h = sp.w = sh.h;
    sp.k = sh.k;
    sp.r = sp.s = sh.r;
    sp.w_filter_stride = sh.r * sh.r * sh.c;
    sp.ho = sp.wo = ho;
    sp.pad_h = sp.pad_w = sh.pad;
    sp.stride_h = sp.stride_w = sh.stride;
    sp.residual = sh.residual;
    sp.z_type = CUDNN_DATA_FP8_E4M3;
    sp.relu = sh.relu;
    sp.y_type = CUDNN_DATA_FP8_E4M3;
    sp.y_clip = kiln::quant::kFp8E4M3Max;
    int8::FusedConvGraph graph(int8::graph_build_handle(), sp);
    std::vector<std::string> notes;
    const auto choices = graph.candidates(3, &notes);
    for (const auto& note : notes) std::printf("%-26s %-14s note: %s\n", sh.name, "fp8_cudnn_graph", note.c_str());
    double best = -1;
    std::string best_detail;
    for (const auto& choice : choices) {
      try {
        auto plan = graph.make_plan(choice);
        int8::FusedConvPointers p{x.p, w.p, folded, folded + sh.k, z.p, folded + 2 * sh.k, y.p};
        const double ms = time_ms(stream, [&] { plan->execute(cudnn, p, ws.p); });
        const std::string d = fmt::format("{} ({}) ws {} {}", choice.describe(), choice.source,
                                          plan->workspace_bytes(), diff_note());
        std::printf("%-26s %-14s   candidate %8.3f ms  %s\n", sh.name, "fp8_cudnn_graph", ms, d.c_str());
        if (best < 0 || ms < best) {
          best = ms;
          best_detail = d;
        }
      } catch (const kiln::Error& e) {
        std::printf("%-26s %-14s   candidate %s FAILED: %s\n", sh.name, "fp8_cudnn_graph", choice.describe().c_str(),
                    e.what());
        cudaGetLastError();
      }
    }
    if (best > 0) report("fp8_cudnn_graph", best, best_detail);
    else report_error("fp8_cudnn_graph", choices.empty() ? "no engine configuration" : "every candidate failed");
  } catch (const kiln::Error& e) {
    report_error("fp8_cudnn_graph", e.what());
    cudaGetLastError();
  }

  // kiln's implicit GEMM with E4M3 operands, the same unfolded epilogue as the reference.
  if (with_graph) try {
    std::string why;
    if (!fp8_tensor_cores(&why)) {
      report_error("fp8_igemm", why);
    } else {
      int8::IgemmConvParams p = igemm_params(sh, n, ho);
      p.fp8 = true;
      p.scale = scale;
      p.bias = bias;
      p.z = sh.residual ? z.p : nullptr;
      p.z_kind = sh.residual ? int8::ResidualKind::kFp8 : int8::ResidualKind::kNone;
      p.z_scale = z_scale;
      p.relu = sh.relu;
      p.y = y.p;
      p.y_kind = int8::IgemmOutput::kFp8;
      p.y_inv_scale = 1.0f;
      probe_igemm("fp8_igemm", sh, p, x, w, stream, diff_note, report, report_error, row);
    }
  } catch (const kiln::Error& e) {
    report_error("fp8_igemm", e.what());
    cudaGetLastError();
  }

  if (sh.r != 1 || sh.stride != 1 || sh.residual) return;
  // Every per-channel scaling scheme of the FP8 GEMM (imma_gemm.h), and a plain FP8 GEMM
  // without one (its diff shows the missing scales, not an error).
  const std::vector<float> host_ones(static_cast<size_t>(n * ho * ho), 1.0f);
  DeviceBuf ones(host_ones.size() * 4);
  CHECK_CUDA(cudaMemcpy(ones.p, host_ones.data(), host_ones.size() * 4, cudaMemcpyHostToDevice));
  double best = -1;
  std::string best_detail;
  for (int scaling : {int8::kFp8OuterVectors, int8::kFp8AlphaVector, int8::kFp8OuterVectorA, int8::kFp8ScalarOnly}) {
    const std::string tag = fmt::format("fp8_cublaslt [{}]", int8::fp8_scaling_name(scaling));
    try {
      int8::ImmaConvSpec sp;
      sp.k = sh.k;
      sp.c = sh.c;
      sp.pixels = n * ho * ho;
      sp.relu = sh.relu;
      sp.fp8 = true;
      sp.fp8_scaling = scaling;
      int8::ImmaConvGemm gemm(sp, bias16, scale, d_scale, ones.as<float>());
      for (const auto& algo : gemm.algos(lt, 4, ws_bytes)) {
        int8::ImmaConvPointers p;
        p.w = w.p;
        p.x = x.p;
        p.y = y.p;
        try {
          const double ms = time_ms(stream, [&] {
            const cublasStatus_t st = gemm.run(lt, algo, p, ws.p, ws_bytes, stream);
            if (st != CUBLAS_STATUS_SUCCESS) kiln::fail("cublasLtMatmul: {}", cublasGetStatusName(st));
          });
          const std::string d = fmt::format("{} {} {}", int8::fp8_scaling_name(scaling), algo.describe(), diff_note());
          std::printf("%-26s %-14s   candidate %8.3f ms  %s\n", sh.name, "fp8_cublaslt", ms, d.c_str());
          if (scaling != int8::kFp8ScalarOnly && (best < 0 || ms < best)) {
            best = ms;
            best_detail = d;
          }
        } catch (const kiln::Error& e) {
          std::printf("%-26s %-14s   candidate %s FAILED: %s\n", sh.name, tag.c_str(), algo.describe().c_str(),
                      e.what());
          cudaGetLastError();
        }
      }
    } catch (const kiln::Error& e) {
      std::printf("%-26s %-14s FAILED: %s\n", sh.name, tag.c_str(), e.what());
      cudaGetLastError();
    }
  }
  if (best > 0) report("fp8_cublaslt", best, best_detail);
  else report_error("fp8_cublaslt", "no per-channel scaling scheme ran");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT.json [BATCH=256] [all|int8|fp8|fp8gemm]\n", argv[0]);
    return 2;
  }
  const int64_t n = argc > 2 ? std::atoi(argv[2]) : 256;
  const std::string which = argc > 3 ? argv[3] : "all";
  // fp8gemm: only the FP8 cuBLASLt rows (and FP16) of the 1x1 stride-1 shapes without residual.
  const bool gemm_only = which == "fp8gemm";
  const bool do_int8 = which == "all" || which == "int8", do_fp8 = which != "int8";
  nlohmann::json results = nlohmann::json::array();
  try {
    cudaDeviceProp prop{};
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    std::printf("device %s, cuDNN %zu, cuBLASLt %zu, batch %ld\n", prop.name, cudnnGetVersion(), cublasLtGetVersion(),
                static_cast<long>(n));
    cudaStream_t stream;
    CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    cudnnHandle_t cudnn;
    CHECK_CUDNN(cudnnCreate(&cudnn));
    CHECK_CUDNN(cudnnSetStream(cudnn, stream));
    cublasLtHandle_t lt;
    if (cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS) kiln::fail("cublasLtCreate failed");
    const size_t ws_bytes = 512u << 20;
    DeviceBuf ws(ws_bytes);

    const char* shape_filter = std::getenv("KILN_PROBE_SHAPES");
    const auto shape_wanted = [&](const std::string& name) {
      if (!shape_filter || !*shape_filter) return true;
      std::string pieces = shape_filter;
      for (size_t start = 0; start <= pieces.size();) {
        const size_t end = std::min(pieces.find(',', start), pieces.size());
        if (end > start && name.find(pieces.substr(start, end - start)) != std::string::npos) return true;
        start = end + 1;
      }
      return false;
    };
    for (const Shape& sh : kShapes) {
      if (gemm_only && (sh.r != 1 || sh.stride != 1 || sh.residual)) continue;
      if (!shape_wanted(sh.name)) continue;
      const int64_t ho = (sh.h + 2 * sh.pad - sh.r) / sh.stride + 1;
      const size_t x_n = size_t(n) * sh.h * sh.h * sh.c, w_n = size_t(sh.k) * sh.r * sh.r * sh.c,
                   y_n = size_t(n) * ho * ho * sh.k;
      const double flops = 2.0 * double(n) * ho * ho * sh.k * sh.c * sh.r * sh.r;
      DeviceBuf x(x_n), w(w_n), z(y_n), y_ref(y_n), y(y_n), acc(y_n * 4), consts(sh.k * 4 * 6);
      upload_random_i8(x, x_n, 1, -64, 64);
      upload_random_i8(w, w_n, 2, -64, 64);
      upload_random_i8(z, y_n, 3, -100, 100);
      // Per-channel scale ~ 1/(sqrt(C*R*S)*64): outputs spread over the int8 range.
      std::vector<float> hc(sh.k * 2);
      std::mt19937 rng(4);
      std::uniform_real_distribution<float> u(0.5f, 1.5f);
      for (int64_t i = 0; i < sh.k; ++i) {
        hc[i] = u(rng) / (std::sqrt(float(sh.c * sh.r * sh.r)) * 24.0f);
        hc[sh.k + i] = (u(rng) - 1.0f) * 10.0f;
      }
      float* scale = consts.as<float>();
      float* bias = scale + sh.k;
      float* folded = scale + 2 * sh.k;  // scale', bias', z_scale'
      CHECK_CUDA(cudaMemcpy(scale, hc.data(), hc.size() * 4, cudaMemcpyHostToDevice));
      const float y_inv = 1.0f, z_scale = 0.5f;
      CHECK_CUDA(int8::fold_epilogue_constants(scale, bias, static_cast<int>(sh.k), y_inv, z_scale, folded,
                                               folded + sh.k, folded + 2 * sh.k, stream));
      nlohmann::json row = {{"shape", sh.name}, {"batch", n}, {"gflop", flops / 1e9}};
      auto report = [&](const std::string& family, double ms, const std::string& detail) {
        std::printf("%-26s %-14s %9.3f ms %7.1f TOPS  %s\n", sh.name, family.c_str(), ms, flops / ms / 1e9,
                    detail.c_str());
        row[family] = {{"ms", ms}, {"tops", flops / ms / 1e9}, {"detail", detail}};
      };
      auto report_error = [&](const std::string& family, const std::string& error) {
        std::printf("%-26s %-14s FAILED: %s\n", sh.name, family.c_str(), error.c_str());
        row[family] = {{"error", error}};
      };

      {  // the memory roofline: a copy moving the convolution's INT8 bytes
        const size_t traffic = x_n + y_n * (sh.residual ? 2 : 1);
        const size_t half = std::min(traffic / 2, ws_bytes / 2);
        char* base = static_cast<char*>(ws.p);
        const double ms = time_ms(stream, [&] {
          CHECK_CUDA(cudaMemcpyAsync(base + ws_bytes / 2, base, half, cudaMemcpyDeviceToDevice, stream));
        });
        std::printf("%-26s %-14s %9.3f ms  %.0f MB moved, %.2f TB/s\n", sh.name, "memcpy", ms, 2.0 * half / 1e6,
                    2.0 * half / ms / 1e9);
        row["memcpy"] = {{"ms", ms}, {"bytes", 2 * half}};
      }

      // Legacy: cudnnConvolutionForward INT8 -> FLOAT, then the epilogue kernel (exact reference).
      bool have_ref = false;
      if (do_int8) try {
        cudnnTensorDescriptor_t xd, yd;
        cudnnFilterDescriptor_t wd;
        cudnnConvolutionDescriptor_t cd;
        CHECK_CUDNN(cudnnCreateTensorDescriptor(&xd));
        CHECK_CUDNN(cudnnCreateTensorDescriptor(&yd));
        CHECK_CUDNN(cudnnCreateFilterDescriptor(&wd));
        CHECK_CUDNN(cudnnCreateConvolutionDescriptor(&cd));
        CHECK_CUDNN(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_INT8, n, sh.c, sh.h, sh.h));
        CHECK_CUDNN(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, n, sh.k, ho, ho));
        CHECK_CUDNN(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_INT8, CUDNN_TENSOR_NHWC, sh.k, sh.c, sh.r, sh.r));
        CHECK_CUDNN(cudnnSetConvolution2dDescriptor(cd, sh.pad, sh.pad, sh.stride, sh.stride, 1, 1,
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_INT32));
        int8::EpilogueParams ep;
        ep.pixels = n * ho * ho;
        ep.k = ep.k_pad = static_cast<int>(sh.k);
        ep.acc = acc.as<float>();
        ep.scale = scale;
        ep.bias = bias;
        ep.z = sh.residual ? z.p : nullptr;
        ep.z_kind = sh.residual ? int8::ResidualKind::kInt8 : int8::ResidualKind::kNone;
        ep.z_scale = z_scale;
        ep.relu = sh.relu;
        ep.y = y_ref.p;
        ep.y_inv_scale = y_inv;
        const float one = 1, zero = 0;
        auto run = [&] {
          CHECK_CUDNN(cudnnConvolutionForward(cudnn, &one, xd, x.p, wd, w.p, cd,
                                              CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, ws.p, ws_bytes, &zero,
                                              yd, acc.p));
          CHECK_CUDA(int8::conv_epilogue(ep, stream));
        };
        report("legacy", time_ms(stream, run), "IMPLICIT_PRECOMP_GEMM + epilogue kernel");
        have_ref = true;
        cudnnDestroyTensorDescriptor(xd);
        cudnnDestroyTensorDescriptor(yd);
        cudnnDestroyFilterDescriptor(wd);
        cudnnDestroyConvolutionDescriptor(cd);
      } catch (const kiln::Error& e) {
        report_error("legacy", e.what());
        cudaGetLastError();
      }
      auto diff_note = [&]() -> std::string {
        if (!have_ref) return "no reference";
        const auto [worst, frac] = compare_i8(y, y_ref, y_n);
        return fmt::format("diff max {} LSB on {:.4f}% of elements", worst, 100 * frac);
      };

      // cuDNN graph API, fused.
      if (do_int8) try {
        int8::FusedConvSpec sp;
        sp.n = n;
        sp.c = sh.c;
        sp.h = sp.w = sh.h;
        sp.k = sh.k;
        sp.r = sp.s = sh.r;
        sp.w_filter_stride = sh.r * sh.r * sh.c;
        sp.ho = sp.wo = ho;
        sp.pad_h = sp.pad_w = sh.pad;
        sp.stride_h = sp.stride_w = sh.stride;
        sp.residual = sh.residual;
        sp.relu = sh.relu;
        int8::FusedConvGraph graph(int8::graph_build_handle(), sp);
        std::vector<std::string> notes;
        const auto choices = graph.candidates(4, &notes);
        for (const auto& note : notes) std::printf("%-26s %-14s note: %s\n", sh.name, "cudnn_graph", note.c_str());
        if (choices.empty()) report_error("cudnn_graph", "no engine configuration");
        double best = -1;
        std::string best_detail;
        nlohmann::json tried = nlohmann::json::array();
        for (const auto& choice : choices) {
          try {
            auto plan = graph.make_plan(choice);
            int8::FusedConvPointers p{x.p, w.p, folded, folded + sh.k, z.p, folded + 2 * sh.k, y.p};
            const double ms = time_ms(stream, [&] { plan->execute(cudnn, p, ws.p); });
            const std::string d = fmt::format("{} ({}) ws {} {}", choice.describe(), choice.source,
                                              plan->workspace_bytes(), diff_note());
            std::printf("%-26s %-14s   candidate %8.3f ms  %s\n", sh.name, "cudnn_graph", ms, d.c_str());
            tried.push_back({{"engine", choice.to_json()}, {"ms", ms}, {"detail", d}});
            if (best < 0 || ms < best) {
              best = ms;
              best_detail = d;
            }
          } catch (const kiln::Error& e) {
            std::printf("%-26s %-14s   candidate %s FAILED: %s\n", sh.name, "cudnn_graph", choice.describe().c_str(),
                        e.what());
            tried.push_back({{"engine", choice.to_json()}, {"error", e.what()}});
            cudaGetLastError();
          }
        }
        if (best > 0) report("cudnn_graph", best, best_detail);
        else if (!choices.empty()) report_error("cudnn_graph", "every candidate failed");
        row["cudnn_graph"]["candidates"] = tried;
      } catch (const kiln::Error& e) {
        report_error("cudnn_graph", e.what());
        cudaGetLastError();
      }

      // cuBLASLt IMMA (1x1 stride 1 only).
      if (do_int8 && sh.r == 1 && sh.stride == 1) {
        try {
          int8::ImmaConvSpec sp;
          sp.k = sh.k;
          sp.c = sh.c;
          sp.pixels = n * ho * ho;
          sp.residual = sh.residual;
          sp.relu = sh.relu;
          int8::ImmaConvGemm gemm(sp, folded + sh.k);
          double best = -1;
          std::string best_detail;
          for (const auto& algo : gemm.algos(lt, 8, ws_bytes)) {
            int8::ImmaConvPointers p;
            p.w = w.as<int8_t>();
            p.x = x.as<int8_t>();
            p.z = z.as<int8_t>();
            p.alpha = folded;
            p.bias = folded + sh.k;
            p.beta = z_scale * y_inv;
            p.y = y.as<int8_t>();
            try {
              const double ms = time_ms(stream, [&] {
                const cublasStatus_t st = gemm.run(lt, algo, p, ws.p, ws_bytes, stream);
                if (st != CUBLAS_STATUS_SUCCESS) kiln::fail("cublasLtMatmul: {}", cublasGetStatusName(st));
              });
              const std::string d = fmt::format("{} {}", algo.describe(), diff_note());
              std::printf("%-26s %-14s   candidate %8.3f ms  %s\n", sh.name, "cublaslt_imma", ms, d.c_str());
              if (best < 0 || ms < best) {
                best = ms;
                best_detail = d;
              }
            } catch (const kiln::Error& e) {
              std::printf("%-26s %-14s   candidate %s FAILED: %s\n", sh.name, "cublaslt_imma",
                          algo.describe().c_str(), e.what());
              cudaGetLastError();
            }
          }
          if (best > 0) report("cublaslt_imma", best, best_detail);
          else report_error("cublaslt_imma", "every algorithm failed");
        } catch (const kiln::Error& e) {
          report_error("cublaslt_imma", e.what());
          cudaGetLastError();
        }
      }

      // kiln's implicit GEMM, every tile; the unfolded epilogue constants, as the legacy path.
      if (do_int8) try {
        int8::IgemmConvParams p = igemm_params(sh, n, ho);
        p.scale = scale;
        p.bias = bias;
        p.z = sh.residual ? z.p : nullptr;
        p.z_kind = sh.residual ? int8::ResidualKind::kInt8 : int8::ResidualKind::kNone;
        p.z_scale = z_scale;
        p.relu = sh.relu;
        p.y = y.p;
        p.y_kind = int8::IgemmOutput::kInt8;
        p.y_inv_scale = y_inv;
        probe_igemm("igemm", sh, p, x, w, stream, diff_note, report, report_error, row);
      } catch (const kiln::Error& e) {
        report_error("igemm", e.what());
        cudaGetLastError();
      }

      if (do_fp8 && sh.c >= 16)
        probe_fp8(sh, n, ho, !gemm_only, stream, cudnn, lt, ws, ws_bytes, report, report_error, row);

      // FP16 reference: cudnnConvolutionBiasActivationForward (NHWC, tensor cores), z = y when residual.
      try {
        const int64_t c16 = sh.c == 4 ? 8 : sh.c;  // FP16 tensor-core kernels want C % 8
        DeviceBuf xh(size_t(n) * sh.h * sh.h * c16 * 2), wh(size_t(sh.k) * sh.r * sh.r * c16 * 2), yh(y_n * 2),
            bh(sh.k * 2);
        CHECK_CUDA(cudaMemset(xh.p, 0x3c, size_t(n) * sh.h * sh.h * c16 * 2));
        CHECK_CUDA(cudaMemset(wh.p, 0x1c, size_t(sh.k) * sh.r * sh.r * c16 * 2));
        CHECK_CUDA(cudaMemset(yh.p, 0, y_n * 2));
        CHECK_CUDA(cudaMemset(bh.p, 0, sh.k * 2));
        cudnnTensorDescriptor_t xd, yd, bd;
        cudnnFilterDescriptor_t wd;
        cudnnConvolutionDescriptor_t cd;
        cudnnActivationDescriptor_t ad;
        CHECK_CUDNN(cudnnCreateTensorDescriptor(&xd));
        CHECK_CUDNN(cudnnCreateTensorDescriptor(&yd));
        CHECK_CUDNN(cudnnCreateTensorDescriptor(&bd));
        CHECK_CUDNN(cudnnCreateFilterDescriptor(&wd));
        CHECK_CUDNN(cudnnCreateConvolutionDescriptor(&cd));
        CHECK_CUDNN(cudnnCreateActivationDescriptor(&ad));
        CHECK_CUDNN(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, n, c16, sh.h, sh.h));
        CHECK_CUDNN(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, n, sh.k, ho, ho));
        CHECK_CUDNN(cudnnSetTensor4dDescriptor(bd, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, 1, sh.k, 1, 1));
        CHECK_CUDNN(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_HALF, CUDNN_TENSOR_NHWC, sh.k, c16, sh.r, sh.r));
        CHECK_CUDNN(cudnnSetConvolution2dDescriptor(cd, sh.pad, sh.pad, sh.stride, sh.stride, 1, 1,
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        CHECK_CUDNN(cudnnSetConvolutionMathType(cd, CUDNN_TENSOR_OP_MATH));
        CHECK_CUDNN(cudnnSetActivationDescriptor(ad, sh.relu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY,
                                                 CUDNN_NOT_PROPAGATE_NAN, 0.0));
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int found = 0;
        CHECK_CUDNN(cudnnGetConvolutionForwardAlgorithm_v7(cudnn, xd, wd, cd, yd, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                           &found, perf));
        double best = -1;
        int best_algo = -1;
        for (int i = 0; i < found; ++i) {
          const cudnnConvolutionFwdAlgo_t algo = perf[i].algo;
          // IDENTITY activation is only implemented by IMPLICIT_PRECOMP_GEMM.
          if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > ws_bytes ||
              (!sh.relu && algo != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM))
            continue;
          const float one = 1, a2 = sh.residual ? 1.0f : 0.0f;
          try {
            const double ms = time_ms(stream, [&] {
              CHECK_CUDNN(cudnnConvolutionBiasActivationForward(cudnn, &one, xd, xh.p, wd, wh.p, cd, algo, ws.p,
                                                                ws_bytes, &a2, yd, yh.p, bd, bh.p, ad, yd, yh.p));
            });
            if (best < 0 || ms < best) {
              best = ms;
              best_algo = algo;
            }
          } catch (const kiln::Error&) {
            cudaGetLastError();
          }
        }
        if (best > 0) report("fp16", best, fmt::format("cudnnConvolutionBiasActivationForward algo {}{}", best_algo,
                                                       c16 != sh.c ? " (C padded to 8)" : ""));
        else report_error("fp16", "no algorithm ran");
        cudnnDestroyTensorDescriptor(xd);
        cudnnDestroyTensorDescriptor(yd);
        cudnnDestroyTensorDescriptor(bd);
        cudnnDestroyFilterDescriptor(wd);
        cudnnDestroyConvolutionDescriptor(cd);
        cudnnDestroyActivationDescriptor(ad);
      } catch (const kiln::Error& e) {
        report_error("fp16", e.what());
        cudaGetLastError();
      }
      results.push_back(row);
      std::fflush(stdout);
    }
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "int8_conv_probe: %s\n", e.what());
    std::ofstream(argv[1]) << results.dump(2) << "\n";
    return 1;
  }
  std::ofstream out(argv[1]);
  out << results.dump(2) << "\n";
  std::printf("wrote %s\n", argv[1]);
  return 0;
}
