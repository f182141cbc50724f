#include "backends/cuda/burn/gpu_burn.h"

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <cuda_runtime.h>
#include <fmt/format.h>

#include "backends/cuda/burn/burn_kernels.h"
#include "backends/cuda/burn/nvml_reader.h"
#include "backends/cuda/kernels/gemm_cublaslt.h"
#include "core/error.h"

namespace kiln::cuda::burn {
namespace {

using Clock = std::chrono::steady_clock;
using kernels::GemmPrecision;

constexpr int kChunk = 8;                      // GEMMs launched between host checks
constexpr size_t kWorkspaceBytes = 64 << 20;   // cuBLASLt workspace per precision
constexpr size_t kReserveBytes = 768ull << 20; // left free for cuBLASLt and the context

// Live counters a worker publishes and the reporting thread reads.
struct WorkerState {
  int device = 0;
  std::string name, pci_bus_id;
  std::atomic<uint64_t> gemms[2] = {0, 0};  // completed: [0] f16, [1] tf32
  std::atomic<uint64_t> mismatched_words{0};
  std::atomic<bool> done{false};
  std::mutex mutex;
  std::string failure;
  int64_t matrix_size = 0;
  int slots[2] = {0, 0};
};

struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw CudaError(fmt::format("{}: {}", what, cudaGetErrorString(e)));
}

// The buffers of one precision: A and B inputs, result slots (slot 0 is the reference),
// and the chosen algorithm.
struct PrecisionSet {
  GemmPrecision precision;
  size_t elem = 0;
  void* a = nullptr;
  void* b = nullptr;
  std::vector<void*> slots;
  void* workspace = nullptr;
  std::unique_ptr<kernels::CublasLtGemm> gemm;
  kernels::GemmAlgo algo;
  size_t next_slot = 1;
};

void burn_worker(WorkerState& state, const BurnOptions& opt, Clock::time_point deadline) {
  std::vector<void*> allocations;
  std::vector<PrecisionSet> sets;
  cudaStream_t stream = nullptr;
  unsigned long long* d_mismatch = nullptr;
  unsigned long long* h_mismatch = nullptr;
  cudaEvent_t events[2] = {nullptr, nullptr};
  try {
    check_cuda(cudaSetDevice(state.device), "cudaSetDevice");
    check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    for (auto& e : events) check_cuda(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaMalloc(&d_mismatch, sizeof(*d_mismatch)), "cudaMalloc counter");
    check_cuda(cudaMemset(d_mismatch, 0, sizeof(*d_mismatch)), "cudaMemset counter");
    check_cuda(cudaMallocHost(&h_mismatch, 2 * sizeof(*h_mismatch)), "cudaMallocHost");
    h_mismatch[0] = h_mismatch[1] = 0;

    size_t free_bytes = 0, total_bytes = 0;
    check_cuda(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    const double wanted = opt.memory_fraction * double(total_bytes);
    size_t budget = static_cast<size_t>(std::min(wanted, double(free_bytes)));
    budget = budget > kReserveBytes ? budget - kReserveBytes : 0;

    std::vector<GemmPrecision> precisions;
    if (opt.use_f16) precisions.push_back(GemmPrecision::kF16);
    if (opt.use_tf32) precisions.push_back(GemmPrecision::kTF32);
    const size_t per_set = budget / precisions.size();
    // Shrink the matrices until each precision fits A, B, a workspace and 3 result slots
    // (the reference plus at least two to check).
    int64_t n = opt.matrix_size;
    while (n > 1024 && (per_set < kWorkspaceBytes + 5 * size_t(n) * n * 4)) n /= 2;
    state.matrix_size = n;
    const size_t nn = size_t(n) * size_t(n);

    for (size_t p = 0; p < precisions.size(); ++p) {
      PrecisionSet set;
      set.precision = precisions[p];
      set.elem = precisions[p] == GemmPrecision::kF16 ? 2 : 4;
      const size_t matrix_bytes = nn * set.elem;
      if (per_set < kWorkspaceBytes + 4 * matrix_bytes)
        throw CudaError(fmt::format("not enough free GPU memory for {}x{} GEMMs", n, n));
      const size_t slot_count = (per_set - kWorkspaceBytes - 2 * matrix_bytes) / matrix_bytes;
      auto alloc = [&](size_t bytes) {
        void* ptr = nullptr;
        check_cuda(cudaMalloc(&ptr, bytes), "cudaMalloc");
        allocations.push_back(ptr);
        return ptr;
      };
      set.a = alloc(matrix_bytes);
      set.b = alloc(matrix_bytes);
      set.workspace = alloc(kWorkspaceBytes);
      for (size_t s = 0; s < slot_count; ++s) set.slots.push_back(alloc(matrix_bytes));
      state.slots[set.precision == GemmPrecision::kF16 ? 0 : 1] = static_cast<int>(slot_count);
      const bool half = set.elem == 2;
      check_cuda(fill_uniform(set.a, nn, half, 1234u + uint32_t(p), stream), "fill A");
      check_cuda(fill_uniform(set.b, nn, half, 5678u + uint32_t(p), stream), "fill B");

      kernels::GemmProblem problem;
      problem.m = problem.n = problem.k = n;
      problem.precision = set.precision;
      problem.deterministic = true;
      set.gemm = kernels::CublasLtGemm::create(problem);
      set.algo = set.gemm->enumerate_algos(1, kWorkspaceBytes).at(0);
      kernels::GemmBuffers buf{set.a, set.b, nullptr, nullptr, set.slots[0]};
      const Status s = set.gemm->run(set.algo, buf, set.workspace, kWorkspaceBytes, stream);
      if (!s.ok()) throw CudaError(s.message());
      sets.push_back(std::move(set));
    }
    check_cuda(cudaStreamSynchronize(stream), "reference GEMMs");

    // Chunks alternate between precisions; chunk k+1 is queued before the host waits on
    // chunk k, so the GPU never idles on the host.
    uint64_t pending_gemms[2][2] = {};  // [parity][precision index]
    bool pending[2] = {false, false};
    int parity = 0;
    size_t set_index = 0;
    bool fault_injected = false;
    while (Clock::now() < deadline) {
      PrecisionSet& set = sets[set_index];
      const int pi = set.precision == GemmPrecision::kF16 ? 0 : 1;
      kernels::GemmBuffers buf{set.a, set.b, nullptr, nullptr, nullptr};
      for (int i = 0; i < kChunk; ++i) {
        buf.d = set.slots[set.next_slot];
        const Status s = set.gemm->run(set.algo, buf, set.workspace, kWorkspaceBytes, stream);
        if (!s.ok()) throw CudaError(s.message());
        if (opt.inject_fault && !fault_injected) {
          check_cuda(cudaMemsetAsync(static_cast<char*>(buf.d) + 4096, 0x5a, 4, stream), "fault injection");
          fault_injected = true;
        }
        check_cuda(count_mismatches(static_cast<const uint32_t*>(set.slots[set.next_slot]),
                                    static_cast<const uint32_t*>(set.slots[0]), nn * set.elem / 4, d_mismatch, stream),
                   "compare");
        set.next_slot = set.next_slot + 1 < set.slots.size() ? set.next_slot + 1 : 1;
      }
      check_cuda(cudaMemcpyAsync(&h_mismatch[parity], d_mismatch, sizeof(*d_mismatch), cudaMemcpyDeviceToHost, stream),
                 "read counter");
      check_cuda(cudaEventRecord(events[parity], stream), "cudaEventRecord");
      pending_gemms[parity][0] = pending_gemms[parity][1] = 0;
      pending_gemms[parity][pi] = kChunk;
      pending[parity] = true;
      // Wait for the previous chunk and publish its counts.
      const int prev = parity ^ 1;
      if (pending[prev]) {
        check_cuda(cudaEventSynchronize(events[prev]), "GEMM chunk");
        state.gemms[0] += pending_gemms[prev][0];
        state.gemms[1] += pending_gemms[prev][1];
        state.mismatched_words = h_mismatch[prev];
        pending[prev] = false;
      }
      parity = prev;
      set_index = (set_index + 1) % sets.size();
    }
    check_cuda(cudaStreamSynchronize(stream), "final GEMMs");
    for (int p = 0; p < 2; ++p) {
      if (!pending[p]) continue;
      state.gemms[0] += pending_gemms[p][0];
      state.gemms[1] += pending_gemms[p][1];
    }
    unsigned long long final_count = 0;
    check_cuda(cudaMemcpy(&final_count, d_mismatch, sizeof(final_count), cudaMemcpyDeviceToHost), "read counter");
    state.mismatched_words = final_count;
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.failure = e.what();
  }
  sets.clear();  // destroys cuBLASLt handles before their memory goes
  for (void* p : allocations) cudaFree(p);
  if (d_mismatch) cudaFree(d_mismatch);
  if (h_mismatch) cudaFreeHost(h_mismatch);
  for (auto& e : events)
    if (e) cudaEventDestroy(e);
  if (stream) cudaStreamDestroy(stream);
  state.done = true;
}

double gemm_flops(int64_t n) { return 2.0 * double(n) * double(n) * double(n); }

}  // namespace

bool BurnResult::clean() const {
  if (gpus.empty()) return false;
  for (const auto& g : gpus)
    if (!g.clean()) return false;
  return true;
}

int cuda_gpu_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
  return count;
}

std::vector<int> parse_gpu_list(const std::string& text, int device_count) {
  std::vector<int> gpus;
  if (text.empty() || text == "all") {
    for (int i = 0; i < device_count; ++i) gpus.push_back(i);
    return gpus;
  }
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    KILN_CHECK(!item.empty() && item.find_first_not_of("0123456789") == std::string::npos,
               "--gpus: \"{}\" is not a GPU index (use all or a list like 0,1)", item);
    const int index = std::stoi(item);
    KILN_CHECK(index < device_count, "--gpus: GPU {} does not exist ({} CUDA device(s) present)", index,
               device_count);
    for (int g : gpus) KILN_CHECK(g != index, "--gpus: GPU {} listed twice", index);
    gpus.push_back(index);
    start = comma + 1;
  }
  return gpus;
}

BurnResult run_burn(const BurnOptions& opt, std::FILE* out) {
  const int count = cuda_gpu_count();
  if (count == 0) fail_with(ErrorCode::kUnavailable, "no CUDA GPU found");
  KILN_CHECK(opt.seconds > 0, "--seconds must be positive, got {}", opt.seconds);
  KILN_CHECK(opt.memory_fraction > 0 && opt.memory_fraction <= 0.98, "--memory-fraction must be in (0, 0.98], got {}",
             opt.memory_fraction);
  KILN_CHECK(opt.report_interval > 0, "--report-interval must be positive, got {}", opt.report_interval);
  KILN_CHECK(opt.use_f16 || opt.use_tf32, "burn: choose at least one of f16 and tf32");
  KILN_CHECK(opt.matrix_size >= 1024 && opt.matrix_size % 16 == 0, "--matrix-size must be >= 1024 and a multiple of 16");
  std::vector<int> gpus = opt.gpus;
  if (gpus.empty())
    for (int i = 0; i < count; ++i) gpus.push_back(i);
  for (int g : gpus) KILN_CHECK(g >= 0 && g < count, "GPU {} does not exist ({} present)", g, count);

  std::vector<std::unique_ptr<WorkerState>> states;
  for (int g : gpus) {
    auto s = std::make_unique<WorkerState>();
    s->device = g;
    cudaDeviceProp prop{};
    s->name = cudaGetDeviceProperties(&prop, g) == cudaSuccess ? prop.name : "unknown GPU";
    char bus[32] = {};
    if (cudaDeviceGetPCIBusId(bus, sizeof(bus), g) == cudaSuccess) s->pci_bus_id = bus;
    states.push_back(std::move(s));
  }
  auto nvml = NvmlReader::open();
  std::fprintf(out, "kiln burn: %zu GPU(s), %.0f s, memory fraction %.2f, f16 %s, tf32 %s, NVML %s\n", gpus.size(),
               opt.seconds, opt.memory_fraction, opt.use_f16 ? "on" : "off", opt.use_tf32 ? "on" : "off",
               nvml->available() ? "available" : "n/a");
  std::fflush(out);

  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(opt.seconds));
  std::vector<std::thread> threads;
  for (auto& s : states) threads.emplace_back(burn_worker, std::ref(*s), std::cref(opt), deadline);

  std::vector<std::array<uint64_t, 2>> last(states.size(), {0, 0});
  Clock::time_point last_time = start;
  auto all_done = [&] {
    for (auto& s : states)
      if (!s->done) return false;
    return true;
  };
  while (!all_done()) {
    const auto next = last_time + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(opt.report_interval));
    while (Clock::now() < next && !all_done()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (all_done()) break;
    const auto now = Clock::now();
    const double dt = std::chrono::duration<double>(now - last_time).count();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    for (size_t i = 0; i < states.size(); ++i) {
      WorkerState& s = *states[i];
      const uint64_t f16 = s.gemms[0], tf32 = s.gemms[1];
      const double flops_f16 = double(f16 - last[i][0]) * gemm_flops(s.matrix_size);
      const double flops_tf32 = double(tf32 - last[i][1]) * gemm_flops(s.matrix_size);
      last[i] = {f16, tf32};
      const GpuTelemetry t = nvml->read(s.pci_bus_id);
      std::fprintf(out, "[%6.1fs] GPU %d (%s): %7.1f TFLOP/s (f16 %.1f, tf32 %.1f) | %s | %s | util %s | errors %llu\n",
                   elapsed, s.device, s.name.c_str(), (flops_f16 + flops_tf32) / dt / 1e12, flops_f16 / dt / 1e12,
                   flops_tf32 / dt / 1e12, format_temperature(t.temperature_c).c_str(),
                   format_power(t.power_w).c_str(), format_percent(t.utilization_pct).c_str(),
                   static_cast<unsigned long long>(s.mismatched_words.load()));
    }
    std::fflush(out);
    last_time = now;
  }
  for (auto& t : threads) t.join();
  const double total_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  BurnResult result;
  for (auto& s : states) {
    BurnGpuResult r;
    r.device = s->device;
    r.name = s->name;
    r.gemms_checked = s->gemms[0] + s->gemms[1];
    r.mismatched_words = s->mismatched_words;
    r.average_tflops = double(r.gemms_checked) * gemm_flops(s->matrix_size) / total_seconds / 1e12;
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      r.failure = s->failure;
    }
    const char* verdict = !r.failure.empty() ? "FAILED" : r.mismatched_words ? "FAULTY" : r.gemms_checked ? "OK" : "IDLE";
    std::fprintf(out,
                 "GPU %d (%s): %s: %llu GEMMs of %lldx%lld (f16 slots %d, tf32 slots %d) checked bitwise against the "
                 "first result, %llu mismatched words, %.1f TFLOP/s average%s%s\n",
                 r.device, r.name.c_str(), verdict, static_cast<unsigned long long>(r.gemms_checked),
                 static_cast<long long>(s->matrix_size), static_cast<long long>(s->matrix_size), s->slots[0],
                 s->slots[1], static_cast<unsigned long long>(r.mismatched_words), r.average_tflops,
                 r.failure.empty() ? "" : ": ", r.failure.c_str());
    result.gpus.push_back(std::move(r));
  }
  std::fprintf(out, "kiln burn: %s\n", result.clean() ? "all GPUs passed" : "FAILED");
  std::fflush(out);
  return result;
}

}  // namespace kiln::cuda::burn
