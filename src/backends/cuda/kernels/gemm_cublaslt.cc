#include "backends/cuda/kernels/gemm_cublaslt.h"

#include <algorithm>
#include <cstring>

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <nlohmann/json.hpp>

namespace kiln::cuda::kernels {
namespace {

constexpr char kMagic[4] = {'K', 'G', 'A', '1'};
constexpr size_t kSerializedSize = 4 + 8 + 8 + 4 * 4 + 8 * 8;

void check_lt(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail_with(ErrorCode::kInternal, "cuBLASLt {} failed: {} ({})", what, cublasGetStatusName(status),
              static_cast<int>(status));
}

cudaDataType_t storage_type(GemmPrecision p) {
  switch (p) {
    case GemmPrecision::kF16: return CUDA_R_16F;
    case GemmPrecision::kBF16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

cublasLtEpilogue_t lt_epilogue(GemmEpilogue e) {
  switch (e) {
    case GemmEpilogue::kBias: return CUBLASLT_EPILOGUE_BIAS;
    case GemmEpilogue::kReluBias: return CUBLASLT_EPILOGUE_RELU_BIAS;
    case GemmEpilogue::kGeluBias: return CUBLASLT_EPILOGUE_GELU_BIAS;
    default: return CUBLASLT_EPILOGUE_DEFAULT;
  }
}

template <typename T> void put(std::vector<uint8_t>& out, T v) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.insert(out.end(), bytes, bytes + sizeof(T));
}
template <typename T> T take(const uint8_t*& p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  p += sizeof(T);
  return v;
}

// Reads the readable config fields of an opaque algo for logs and JSON.
void fill_config(GemmAlgo& algo) {
  cublasLtMatmulAlgo_t lt;
  std::memcpy(&lt, algo.opaque.data(), sizeof(lt));
  auto get = [&](cublasLtMatmulAlgoConfigAttributes_t attr) {
    uint32_t v = 0;
    size_t written = 0;
    if (cublasLtMatmulAlgoConfigGetAttribute(&lt, attr, &v, sizeof(v), &written) != CUBLAS_STATUS_SUCCESS) return -1;
    return static_cast<int>(v);
  };
  algo.algo_id = get(CUBLASLT_ALGO_CONFIG_ID);
  algo.tile_id = get(CUBLASLT_ALGO_CONFIG_TILE_ID);
  algo.stages_id = get(CUBLASLT_ALGO_CONFIG_STAGES_ID);
  algo.splitk = get(CUBLASLT_ALGO_CONFIG_SPLITK_NUM);
}

}  // namespace

std::string_view gemm_precision_name(GemmPrecision p) {
  switch (p) {
    case GemmPrecision::kF32: return "f32";
    case GemmPrecision::kTF32: return "tf32";
    case GemmPrecision::kF16: return "f16";
    case GemmPrecision::kBF16: return "bf16";
  }
  return "?";
}

DType gemm_storage_dtype(GemmPrecision p) {
  switch (p) {
    case GemmPrecision::kF16: return DType::kF16;
    case GemmPrecision::kBF16: return DType::kBF16;
    default: return DType::kF32;
  }
}

// ---- GemmAlgo serialization ----

std::vector<uint8_t> GemmAlgo::to_bytes() const {
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  put<uint64_t>(out, cublaslt_version);
  put<uint64_t>(out, workspace_bytes);
  for (int v : {algo_id, tile_id, stages_id, splitk}) put<int32_t>(out, v);
  for (uint64_t w : opaque) put<uint64_t>(out, w);
  return out;
}

GemmAlgo GemmAlgo::from_bytes(const uint8_t* data, size_t size) {
  KILN_CHECK(data && size == kSerializedSize, "GEMM algo record: {} bytes, expected {}", size, kSerializedSize);
  KILN_CHECK(std::memcmp(data, kMagic, 4) == 0, "GEMM algo record: bad magic (not a kiln cuBLASLt algo)");
  const uint8_t* p = data + 4;
  GemmAlgo algo;
  algo.cublaslt_version = take<uint64_t>(p);
  algo.workspace_bytes = take<uint64_t>(p);
  algo.algo_id = take<int32_t>(p);
  algo.tile_id = take<int32_t>(p);
  algo.stages_id = take<int32_t>(p);
  algo.splitk = take<int32_t>(p);
  for (auto& w : algo.opaque) w = take<uint64_t>(p);
  return algo;
}

std::string GemmAlgo::to_json() const {
  std::string hex;
  for (uint64_t w : opaque) hex += fmt::format("{:016x}", w);
  nlohmann::json j = {{"cublaslt_version", cublaslt_version}, {"workspace_bytes", workspace_bytes},
                      {"algo_id", algo_id}, {"tile_id", tile_id}, {"stages_id", stages_id},
                      {"splitk", splitk}, {"opaque", hex}};
  if (measured_ms >= 0) j["measured_ms"] = measured_ms;
  return j.dump();
}

GemmAlgo GemmAlgo::from_json(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  KILN_CHECK(j.is_object(), "GEMM algo JSON: not a JSON object");
  for (const char* key : {"cublaslt_version", "workspace_bytes", "algo_id", "opaque"})
    KILN_CHECK(j.contains(key), "GEMM algo JSON: missing \"{}\"", key);
  GemmAlgo algo;
  try {
    algo.cublaslt_version = j.at("cublaslt_version").get<size_t>();
    algo.workspace_bytes = j.at("workspace_bytes").get<size_t>();
    algo.algo_id = j.at("algo_id").get<int>();
    algo.tile_id = j.value("tile_id", -1);
    algo.stages_id = j.value("stages_id", -1);
    algo.splitk = j.value("splitk", -1);
    algo.measured_ms = j.value("measured_ms", -1.0f);
    const std::string hex = j.at("opaque").get<std::string>();
    KILN_CHECK(hex.size() == 128, "GEMM algo JSON: \"opaque\" must be 128 hex digits, got {}", hex.size());
    for (size_t i = 0; i < 8; ++i) {
      const std::string word = hex.substr(i * 16, 16);
      KILN_CHECK(word.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos,
                 "GEMM algo JSON: \"opaque\" is not hexadecimal");
      algo.opaque[i] = std::stoull(word, nullptr, 16);
    }
  } catch (const nlohmann::json::exception& e) {
    fail("GEMM algo JSON: {}", e.what());
  }
  return algo;
}

std::string GemmAlgo::describe() const {
  return fmt::format("algo {} tile {} stages {} splitk {} ws {}", algo_id, tile_id, stages_id, splitk,
                     workspace_bytes);
}

// ---- CublasLtGemm ----

struct CublasLtGemm::Impl {
  cublasLtHandle_t handle = nullptr;
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr, d = nullptr;  // column-major view: a = stored B
  ~Impl() {
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (op) cublasLtMatmulDescDestroy(op);
    if (handle) cublasLtDestroy(handle);
  }
};

CublasLtGemm::CublasLtGemm(const GemmProblem& problem, std::unique_ptr<Impl> impl)
    : problem_(problem), impl_(std::move(impl)) {}
CublasLtGemm::~CublasLtGemm() = default;

std::unique_ptr<CublasLtGemm> CublasLtGemm::create(const GemmProblem& p) {
  KILN_CHECK(p.m > 0 && p.n > 0 && p.k > 0, "GEMM: sizes must be positive, got M={} N={} K={}", p.m, p.n, p.k);
  auto impl = std::make_unique<Impl>();
  check_lt(cublasLtCreate(&impl->handle), "handle creation");
  const cublasComputeType_t compute =
      p.precision == GemmPrecision::kTF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  check_lt(cublasLtMatmulDescCreate(&impl->op, compute, CUDA_R_32F), "matmul descriptor");
  // Row-major D = op(A) op(B) is column-major D^T = op(B)^T op(A)^T: cuBLASLt's "A" is our B.
  const cublasOperation_t trans_lt_a = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t trans_lt_b = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  check_lt(cublasLtMatmulDescSetAttribute(impl->op, CUBLASLT_MATMUL_DESC_TRANSA, &trans_lt_a, sizeof(trans_lt_a)),
           "TRANSA");
  check_lt(cublasLtMatmulDescSetAttribute(impl->op, CUBLASLT_MATMUL_DESC_TRANSB, &trans_lt_b, sizeof(trans_lt_b)),
           "TRANSB");
  const cublasLtEpilogue_t epilogue = lt_epilogue(p.epilogue);
  check_lt(cublasLtMatmulDescSetAttribute(impl->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)),
           "EPILOGUE");
  const cudaDataType_t type = storage_type(p.precision);
  // Stored B: [K,N] row-major = N x K column-major (ld N); transposed [N,K] = K x N (ld K).
  if (p.trans_b) check_lt(cublasLtMatrixLayoutCreate(&impl->a, type, p.k, p.n, p.k), "layout B");
  else check_lt(cublasLtMatrixLayoutCreate(&impl->a, type, p.n, p.k, p.n), "layout B");
  // Stored A: [M,K] row-major = K x M column-major (ld K); transposed [K,M] = M x K (ld M).
  if (p.trans_a) check_lt(cublasLtMatrixLayoutCreate(&impl->b, type, p.m, p.k, p.m), "layout A");
  else check_lt(cublasLtMatrixLayoutCreate(&impl->b, type, p.k, p.m, p.k), "layout A");
  check_lt(cublasLtMatrixLayoutCreate(&impl->c, type, p.n, p.m, p.n), "layout C");
  check_lt(cublasLtMatrixLayoutCreate(&impl->d, type, p.n, p.m, p.n), "layout D");
  return std::unique_ptr<CublasLtGemm>(new CublasLtGemm(p, std::move(impl)));
}

std::vector<GemmAlgo> CublasLtGemm::enumerate_algos(int max_count, size_t workspace_limit) const {
  KILN_CHECK(max_count > 0, "GEMM: max_count must be positive, got {}", max_count);
  cublasLtMatmulPreference_t pref = nullptr;
  check_lt(cublasLtMatmulPreferenceCreate(&pref), "preference");
  std::unique_ptr<void, void (*)(void*)> pref_guard(
      pref, [](void* p) { cublasLtMatmulPreferenceDestroy(static_cast<cublasLtMatmulPreference_t>(p)); });
  const uint64_t ws = workspace_limit;
  check_lt(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)),
           "workspace preference");
  if (problem_.deterministic) {
    const uint32_t mask = CUBLASLT_REDUCTION_SCHEME_NONE;
    check_lt(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &mask,
                                                  sizeof(mask)),
             "reduction preference");
  }
  std::vector<cublasLtMatmulHeuristicResult_t> results(max_count);
  int returned = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(impl_->handle, impl_->op, impl_->a, impl_->b, impl_->c,
                                                               impl_->d, pref, max_count, results.data(), &returned);
  if (status != CUBLAS_STATUS_SUCCESS || returned == 0)
    fail_with(ErrorCode::kUnimplemented, "cuBLASLt has no algorithm for {} GEMM M={} N={} K={} ({})",
              gemm_precision_name(problem_.precision), problem_.m, problem_.n, problem_.k,
              cublasGetStatusName(status));
  std::vector<GemmAlgo> algos;
  for (int i = 0; i < returned; ++i) {
    if (results[i].state != CUBLAS_STATUS_SUCCESS) continue;
    GemmAlgo algo;
    std::memcpy(algo.opaque.data(), &results[i].algo, sizeof(results[i].algo));
    algo.workspace_bytes = results[i].workspaceSize;
    algo.cublaslt_version = cublasLtGetVersion();
    fill_config(algo);
    algos.push_back(algo);
  }
  return algos;
}

bool CublasLtGemm::algo_is_supported(const GemmAlgo& algo) const {
  if (algo.cublaslt_version != cublasLtGetVersion()) return false;
  cublasLtMatmulAlgo_t lt;
  std::memcpy(&lt, algo.opaque.data(), sizeof(lt));
  cublasLtMatmulHeuristicResult_t result{};
  return cublasLtMatmulAlgoCheck(impl_->handle, impl_->op, impl_->a, impl_->b, impl_->c, impl_->d, &lt, &result) ==
         CUBLAS_STATUS_SUCCESS;
}

Status CublasLtGemm::run(const GemmAlgo& algo, const GemmBuffers& buf, void* workspace, size_t workspace_bytes,
                         cudaStream_t stream) const {
  if (!buf.a || !buf.b || !buf.d) return Status(ErrorCode::kInvalidArgument, "GEMM: null A, B or D pointer");
  if (algo.workspace_bytes > workspace_bytes)
    return Status(ErrorCode::kInvalidArgument, fmt::format("GEMM: algo needs {} workspace bytes, {} given",
                                                           algo.workspace_bytes, workspace_bytes));
  const bool needs_bias = problem_.epilogue != GemmEpilogue::kDefault;
  if (needs_bias) {
    if (!buf.bias) return Status(ErrorCode::kInvalidArgument, "GEMM: bias epilogue without a bias pointer");
    const cublasStatus_t s =
        cublasLtMatmulDescSetAttribute(impl_->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &buf.bias, sizeof(buf.bias));
    if (s != CUBLAS_STATUS_SUCCESS) return Status(ErrorCode::kInternal, "GEMM: cannot set the bias pointer");
  }
  const bool use_c = problem_.has_c && buf.c;
  const float beta = use_c ? buf.beta : 0.0f;
  cublasLtMatmulAlgo_t lt;
  std::memcpy(&lt, algo.opaque.data(), sizeof(lt));
  // Our B is cuBLASLt's A and vice versa (see create()).
  const cublasStatus_t status =
      cublasLtMatmul(impl_->handle, impl_->op, &buf.alpha, buf.b, impl_->a, buf.a, impl_->b, &beta,
                     use_c ? buf.c : buf.d, impl_->c, buf.d, impl_->d, &lt, workspace, workspace_bytes, stream);
  if (status != CUBLAS_STATUS_SUCCESS)
    return Status(ErrorCode::kInternal, fmt::format("cuBLASLt matmul failed: {} (M={} N={} K={}, {})",
                                                    cublasGetStatusName(status), problem_.m, problem_.n, problem_.k,
                                                    algo.describe()));
  return Status();
}

GemmAlgo CublasLtGemm::time_algos(const std::vector<GemmAlgo>& algos, const GemmBuffers& buffers, void* workspace,
                                  size_t workspace_bytes, cudaStream_t stream, int iterations) const {
  KILN_CHECK(!algos.empty(), "GEMM: no algorithms to time");
  KILN_CHECK(iterations > 0, "GEMM: iterations must be positive");
  cudaEvent_t start, stop;
  KILN_CHECK(cudaEventCreate(&start) == cudaSuccess && cudaEventCreate(&stop) == cudaSuccess,
             "GEMM timing: cannot create CUDA events");
  GemmAlgo best;
  bool found = false;
  for (const GemmAlgo& algo : algos) {
    if (algo.workspace_bytes > workspace_bytes) continue;
    if (!run(algo, buffers, workspace, workspace_bytes, stream).ok()) continue;  // warm-up
    std::vector<float> times;
    bool ok = true;
    for (int i = 0; i < iterations && ok; ++i) {
      cudaEventRecord(start, stream);
      ok = run(algo, buffers, workspace, workspace_bytes, stream).ok();
      cudaEventRecord(stop, stream);
      float ms = 0;
      ok = ok && cudaEventSynchronize(stop) == cudaSuccess && cudaEventElapsedTime(&ms, start, stop) == cudaSuccess;
      times.push_back(ms);
    }
    if (!ok) continue;
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    const float median = times[times.size() / 2];
    if (!found || median < best.measured_ms) {
      best = algo;
      best.measured_ms = median;
      found = true;
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaGetLastError();  // a failed candidate must not poison later launches' error checks
  if (!found)
    fail_with(ErrorCode::kInternal, "GEMM M={} N={} K={}: none of {} cuBLASLt algorithms ran", problem_.m,
              problem_.n, problem_.k, algos.size());
  return best;
}

GemmAlgo gemm_algo_from_lt(const void* lt_algo, size_t workspace_bytes) {
  GemmAlgo algo;
  std::memcpy(algo.opaque.data(), lt_algo, sizeof(cublasLtMatmulAlgo_t));
  algo.workspace_bytes = workspace_bytes;
  algo.cublaslt_version = cublasLtGetVersion();
  fill_config(algo);
  return algo;
}

std::vector<GemmAlgo> enumerate_algos(const GemmProblem& problem, int max_count, size_t workspace_limit) {
  return CublasLtGemm::create(problem)->enumerate_algos(max_count, workspace_limit);
}

GemmAlgo time_algos(const GemmProblem& problem, const std::vector<GemmAlgo>& algos, const GemmBuffers& buffers,
                    void* workspace, size_t workspace_bytes, cudaStream_t stream, int iterations) {
  return CublasLtGemm::create(problem)->time_algos(algos, buffers, workspace, workspace_bytes, stream, iterations);
}

}  // namespace kiln::cuda::kernels
