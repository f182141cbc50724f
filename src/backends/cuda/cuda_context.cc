// One execution context: inputs are staged through pinned host memory and copied on the
// H2D stream; the compute stream waits on that copy, runs the ops (replaying the CUDA graph
// captured for this batch size after its first eager run) and the D2H stream copies the
// outputs back once compute has finished.
#include <chrono>
#include <cstring>
#include <map>
#include <set>

#include "backends/cuda/engine_core.h"
#include "backends/cuda/op_profiler.h"

namespace kiln::cuda {

namespace {

class CudaContext : public ExecutionContext {
 public:
  explicit CudaContext(std::shared_ptr<const EngineCore> core) : core_(std::move(core)) {
    try {
      init();
    } catch (...) {
      release();
      throw;
    }
  }
  ~CudaContext() override {
    if (profiling_) {
      const std::string report = profiler_.report(core_->program);
      if (!report.empty()) fmt::print(stderr, "{}", report);
    }
    release();
  }

  Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) override {
    const auto start = std::chrono::steady_clock::now();
    try {
      execute(inputs, outputs);
    } catch (const Error& e) {
      return Status::from_error(e);
    } catch (const std::exception& e) {
      return Status(ErrorCode::kInternal, e.what());
    }
    timing_.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return {};
  }
  RunTiming last_timing() const override { return timing_; }

 private:
  void init() {
    const char* where = "creating an execution context";
    const DeviceProgram& p = core_->program;
    KILN_CUDA_CALL(where, cudaSetDevice(core_->device));
    KILN_CUDA_CALL(where, cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
    KILN_CUDA_CALL(where, cudaStreamCreateWithFlags(&h2d_, cudaStreamNonBlocking));
    KILN_CUDA_CALL(where, cudaStreamCreateWithFlags(&d2h_, cudaStreamNonBlocking));
    for (cudaEvent_t* e : {&inputs_ready_, &compute_done_, &start_, &stop_})
      KILN_CUDA_CALL(where, cudaEventCreate(e));
    KILN_CUDNN_CALL(where, cudnnCreate(&cudnn_));
    KILN_CUDNN_CALL(where, cudnnSetStream(cudnn_, compute_));
    KILN_CUBLAS_CALL(where, cublasLtCreate(&cublaslt_));
    KILN_CUDA_CALL(where, cudaMalloc(&arena_, core_->arena_bytes));
    workspace_bytes_ = std::max<size_t>(core_->workspace_bytes, 256);
    KILN_CUDA_CALL(where, cudaMalloc(&workspace_, workspace_bytes_));
    addresses_.resize(p.values.size());
    for (size_t v = 0; v < p.values.size(); ++v) {
      const DeviceValue& root = p.values[p.values[v].storage];
      addresses_[v] = root.is_weight ? static_cast<char*>(p.weights) + root.weight_offset
                                     : static_cast<char*>(arena_) + core_->arena_offset[p.values[v].storage];
    }
    size_t in_bytes = 0, out_bytes = 0;
    for (int v : p.inputs) in_bytes += p.values[v].bytes_at(core_->max_batch);
    for (int v : p.outputs) out_bytes += p.values[v].bytes_at(core_->max_batch);
    KILN_CUDA_CALL(where, cudaHostAlloc(&pinned_in_, std::max<size_t>(in_bytes, 64), cudaHostAllocDefault));
    KILN_CUDA_CALL(where, cudaHostAlloc(&pinned_out_, std::max<size_t>(out_bytes, 64), cudaHostAllocDefault));
    profiling_ = profiling_requested();
    if (profiling_) profiler_.init(p.ops.size());
  }

  void release() {
    for (auto& [batch, exec] : graphs_)
      if (exec) cudaGraphExecDestroy(exec);
    if (pinned_in_) cudaFreeHost(pinned_in_);
    if (pinned_out_) cudaFreeHost(pinned_out_);
    if (arena_) cudaFree(arena_);
    if (workspace_) cudaFree(workspace_);
    if (cudnn_) cudnnDestroy(cudnn_);
    if (cublaslt_) cublasLtDestroy(cublaslt_);
    for (cudaEvent_t e : {inputs_ready_, compute_done_, start_, stop_})
      if (e) cudaEventDestroy(e);
    for (cudaStream_t s : {compute_, h2d_, d2h_})
      if (s) cudaStreamDestroy(s);
  }

  int check_inputs(const std::vector<Tensor>& inputs) const {
    const auto& infos = core_->inputs;
    if (inputs.size() != infos.size())
      fail("model takes {} input(s), got {}", infos.size(), inputs.size());
    int batch = -1;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = inputs[i];
      const TensorInfo& info = infos[i];
      bool ok = t.dtype() == info.dtype && t.dims().size() == info.dims.size() && !info.dims.empty();
      for (size_t d = 1; ok && d < info.dims.size(); ++d) ok = info.dims[d] < 0 || info.dims[d] == t.dims()[d];
      if (!ok)
        fail("input '{}' expects {}{}, got {}", info.name, dtype_name(info.dtype), dims_to_string(info.dims),
             t.describe());
      const int b = static_cast<int>(t.dims()[0]);
      if (batch >= 0 && b != batch) fail("inputs disagree on the batch size ({} vs {})", batch, b);
      batch = b;
    }
    if (batch < 1 || batch > core_->max_batch)
      fail_with(ErrorCode::kInvalidArgument, "batch size {} is outside this engine's range 1..{}", batch,
                core_->max_batch);
    return batch;
  }

  void enqueue_ops(int batch) {
    RunState s;
    s.batch = batch;
    s.stream = compute_;
    s.cudnn = cudnn_;
    s.cublaslt = cublaslt_;
    s.workspace = workspace_;
    s.workspace_bytes = workspace_bytes_;
    s.addresses = &addresses_;
    if (!profiling_) {
      for (const auto& op : core_->program.ops) op->enqueue(s);
      return;
    }
    const auto& ops = core_->program.ops;
    for (size_t i = 0; i < ops.size(); ++i) {
      profiler_.mark(i, compute_);
      ops[i]->enqueue(s);
    }
    profiler_.mark(ops.size(), compute_);
  }

  void run_compute(int batch) {
    const char* where = "running the engine";
    if (!core_->use_cuda_graphs || profiling_) {
      enqueue_ops(batch);
      return;
    }
    auto it = graphs_.find(batch);
    if (it == graphs_.end()) {
      // First run at this size is eager: libraries initialize lazily, which capture forbids.
      enqueue_ops(batch);
      graphs_[batch] = nullptr;
      return;
    }
    if (!it->second && !capture_failed_.count(batch)) {
      cudaGraph_t graph = nullptr;
      KILN_CUDA_CALL(where, cudaStreamBeginCapture(compute_, cudaStreamCaptureModeThreadLocal));
      try {
        enqueue_ops(batch);
      } catch (...) {
        cudaStreamEndCapture(compute_, &graph);
        if (graph) cudaGraphDestroy(graph);
        cudaGetLastError();
        capture_failed_.insert(batch);
        enqueue_ops(batch);  // a library refusing capture is not fatal: run eagerly
        return;
      }
      KILN_CUDA_CALL(where, cudaStreamEndCapture(compute_, &graph));
      const cudaError_t st = cudaGraphInstantiate(&it->second, graph, 0);
      cudaGraphDestroy(graph);
      if (st != cudaSuccess) {
        cudaGetLastError();
        it->second = nullptr;
        capture_failed_.insert(batch);
        enqueue_ops(batch);
        return;
      }
    }
    if (it->second) KILN_CUDA_CALL(where, cudaGraphLaunch(it->second, compute_));
    else enqueue_ops(batch);
  }

  void execute(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) {
    const char* where = "running the engine";
    const DeviceProgram& p = core_->program;
    const int batch = check_inputs(inputs);
    KILN_CUDA_CALL(where, cudaSetDevice(core_->device));
    size_t offset = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const size_t bytes = inputs[i].nbytes();
      std::memcpy(static_cast<char*>(pinned_in_) + offset, inputs[i].raw(), bytes);
      KILN_CUDA_CALL(where, cudaMemcpyAsync(addresses_[p.inputs[i]], static_cast<char*>(pinned_in_) + offset, bytes,
                                            cudaMemcpyHostToDevice, h2d_));
      offset += bytes;
    }
    KILN_CUDA_CALL(where, cudaEventRecord(inputs_ready_, h2d_));
    KILN_CUDA_CALL(where, cudaStreamWaitEvent(compute_, inputs_ready_, 0));
    KILN_CUDA_CALL(where, cudaEventRecord(start_, compute_));
    run_compute(batch);
    KILN_CUDA_CALL(where, cudaEventRecord(stop_, compute_));
    KILN_CUDA_CALL(where, cudaEventRecord(compute_done_, compute_));
    KILN_CUDA_CALL(where, cudaStreamWaitEvent(d2h_, compute_done_, 0));
    outputs->clear();
    offset = 0;
    std::vector<size_t> out_offsets;
    for (int v : p.outputs) {
      const size_t bytes = p.values[v].bytes_at(batch);
      KILN_CUDA_CALL(where, cudaMemcpyAsync(static_cast<char*>(pinned_out_) + offset, addresses_[v], bytes,
                                            cudaMemcpyDeviceToHost, d2h_));
      out_offsets.push_back(offset);
      offset += bytes;
    }
    KILN_CUDA_CALL(where, cudaStreamSynchronize(d2h_));
    KILN_CUDA_CALL(where, cudaGetLastError());
    float ms = 0;
    KILN_CUDA_CALL(where, cudaEventElapsedTime(&ms, start_, stop_));
    timing_.compute_ms = ms;
    if (profiling_) profiler_.collect(batch);
    for (size_t i = 0; i < p.outputs.size(); ++i) {
      const DeviceValue& v = p.values[p.outputs[i]];
      Tensor t(v.dtype, v.dims_at(batch));  // f32 for float outputs (see lowering), else the index type
      std::memcpy(t.raw(), static_cast<char*>(pinned_out_) + out_offsets[i], t.nbytes());
      outputs->push_back(std::move(t));
    }
  }

  std::shared_ptr<const EngineCore> core_;
  cudaStream_t compute_ = nullptr, h2d_ = nullptr, d2h_ = nullptr;
  cudaEvent_t inputs_ready_ = nullptr, compute_done_ = nullptr, start_ = nullptr, stop_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasLtHandle_t cublaslt_ = nullptr;
  void* arena_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  void* pinned_in_ = nullptr;
  void* pinned_out_ = nullptr;
  std::vector<void*> addresses_;
  std::map<int, cudaGraphExec_t> graphs_;
  std::set<int> capture_failed_;
  RunTiming timing_;
  bool profiling_ = false;
  OpProfiler profiler_;
};

}  // namespace

std::unique_ptr<ExecutionContext> make_cuda_context(std::shared_ptr<const EngineCore> core) {
  return std::make_unique<CudaContext>(std::move(core));
}

}  // namespace kiln::cuda
