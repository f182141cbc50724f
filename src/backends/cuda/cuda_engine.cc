#include "backends/cuda/cuda_engine.h"

#include <chrono>

#include "backends/cuda/basic_ops.h"
#include "backends/cuda/conv_op.h"
#include "backends/cuda/engine_core.h"
#include "backends/cuda/gemm_op.h"
#include "backends/cuda/image_input.h"
#include "backends/cuda/int8/int8_ops.h"
#include "backends/cuda/tactic_timer.h"
#include "engine/graph_io.h"
#include "engine/memory_planner.h"

namespace kiln::cuda {

namespace {

constexpr size_t kTacticWorkspaceLimit = 512u << 20;

// Device values, ops, activation storage and weights for a lowered graph.
void compile(EngineCore& core) {
  const ir::Graph& g = core.lowered.graph;
  DeviceProgram& p = core.program;
  p.values.resize(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) {
    const ir::Value& src = g.values[v];
    DeviceValue& d = p.values[v];
    d.name = src.name;
    d.dtype = src.dtype;
    d.dims = src.dims;
    d.batched = core.lowered.batched.at(v);
    d.layout = core.lowered.layouts.at(v);
    d.storage = static_cast<int>(v);
    d.is_weight = src.is_constant();
  }
  p.inputs = g.inputs;
  p.outputs = g.outputs;
  for (const ir::Node& node : g.nodes) {
    std::unique_ptr<DeviceOp> op = make_int8_op(node, p.values);  // nullptr unless an INT8 / FP8 op
    if (op) {
    } else if (node.op == "Conv" || node.op == "FusedConv") op = make_conv_op(node, p.values, core.precision);
    else if (node.op == "Gemm" || node.op == "FusedGemm" || node.op == "MatMul")
      op = make_gemm_op(node, p.values, core.precision);
    else op = make_basic_op(node, p.values);
    if (!op) fail_with(ErrorCode::kUnimplemented, "node \"{}\" ({}): no CUDA implementation", node.name, node.op);
    if (is_alias_op(node.op)) p.values[node.outputs[0]].storage = p.values[node.inputs[0]].storage;
    p.ops.push_back(std::move(op));
  }
}

// Activation lifetimes over op indices, planned into one arena (at max batch).
void plan_arena(EngineCore& core) {
  DeviceProgram& p = core.program;
  const int n_ops = static_cast<int>(p.ops.size());
  std::vector<int> first(p.values.size(), -1), last(p.values.size(), -1);
  auto touch = [&](int v, int at) {
    const int root = p.values[v].storage;
    if (p.values[root].is_weight) return;
    if (first[root] < 0 || at < first[root]) first[root] = at;
    last[root] = std::max(last[root], at);
  };
  for (int v : p.inputs) touch(v, 0);
  for (int i = 0; i < n_ops; ++i) {
    for (int v : p.ops[i]->reads) touch(v, i);
    for (int v : p.ops[i]->writes) touch(v, i);
  }
  for (int v : p.outputs) touch(v, n_ops);
  std::vector<BufferRequest> requests;
  std::vector<int> ids;
  for (size_t v = 0; v < p.values.size(); ++v) {
    if (first[v] < 0) continue;
    requests.push_back({p.values[v].bytes_at(core.max_batch), first[v], last[v]});
    ids.push_back(static_cast<int>(v));
  }
  const MemoryPlan plan = plan_memory(requests);
  core.arena_offset.assign(p.values.size(), 0);
  for (size_t i = 0; i < ids.size(); ++i) core.arena_offset[ids[i]] = plan.offsets[i];
  core.arena_bytes = std::max<size_t>(plan.arena_bytes, 256);
  core.workspace_bytes = 0;
  for (const auto& op : p.ops) core.workspace_bytes = std::max(core.workspace_bytes, op->workspace_bytes());
}

void upload_weights(EngineCore& core) {
  const ir::Graph& g = core.lowered.graph;
  DeviceProgram& p = core.program;
  size_t total = 0;
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (!g.values[v].is_constant()) continue;
    p.values[v].weight_offset = total;
    total += (g.values[v].constant->nbytes() + 255) / 256 * 256;
  }
  const char* where = "uploading weights";
  KILN_CUDA_CALL(where, cudaSetDevice(core.device));
  KILN_CUDA_CALL(where, cudaMalloc(&p.weights, std::max<size_t>(total, 256)));
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (!g.values[v].is_constant()) continue;
    const Tensor& t = *g.values[v].constant;
    KILN_CUDA_CALL(where, cudaMemcpy(static_cast<char*>(p.weights) + p.values[v].weight_offset, t.raw(), t.nbytes(),
                                     cudaMemcpyHostToDevice));
  }
}

// Every value at max batch gets a buffer (weights, or one scratch arena) so ops can time
// candidate tactics on real shapes.
void select_tactics(EngineCore& core, const BuildOptions& options) {
  DeviceProgram& p = core.program;
  const char* where = "tactic selection";
  TacticTimer timer;
  timer.device_key = core.info.tactic_key();
  timer.workspace_limit = kTacticWorkspaceLimit;
  if (!options.timing_cache_path.empty()) timer.cache = load_timing_cache(options.timing_cache_path);
  std::vector<void*> addresses(p.values.size(), nullptr);
  void* arena = nullptr;
  void* workspace = nullptr;
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasLtHandle_t lt = nullptr;
  auto cleanup = [&] {
    if (arena) cudaFree(arena);
    if (workspace) cudaFree(workspace);
    if (cudnn) cudnnDestroy(cudnn);
    if (lt) cublasLtDestroy(lt);
    if (stream) cudaStreamDestroy(stream);
  };
  try {
    KILN_CUDA_CALL(where, cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    KILN_CUDNN_CALL(where, cudnnCreate(&cudnn));
    KILN_CUDNN_CALL(where, cudnnSetStream(cudnn, stream));
    KILN_CUBLAS_CALL(where, cublasLtCreate(&lt));
    KILN_CUDA_CALL(where, cudaMalloc(&arena, core.arena_bytes));
    // Non-zero, finite filler: zeros can run faster than real data.
    KILN_CUDA_CALL(where, cudaMemset(arena, 0x3c, core.arena_bytes));
    KILN_CUDA_CALL(where, cudaMalloc(&workspace, kTacticWorkspaceLimit));
    for (size_t v = 0; v < p.values.size(); ++v) {
      const DeviceValue& d = p.values[v];
      const DeviceValue& root = p.values[d.storage];
      addresses[v] = root.is_weight ? static_cast<char*>(p.weights) + root.weight_offset
                                    : static_cast<char*>(arena) + core.arena_offset[d.storage];
    }
    timer.state.batch = core.max_batch;
    timer.batches = tactic_batches(core.max_batch);
    timer.state.stream = stream;
    timer.state.cudnn = cudnn;
    timer.state.cublaslt = lt;
    timer.state.workspace = workspace;
    timer.state.workspace_bytes = kTacticWorkspaceLimit;
    timer.state.addresses = &addresses;
    int index = 0, timed = 0;
    for (auto& op : p.ops) {
      ++index;
      const size_t before = timer.cache.size();
      const auto start = std::chrono::steady_clock::now();
      op->select_tactic(timer);
      const std::string tactic = op->describe_tactic();
      if (tactic.empty()) continue;
      ++timed;
      if (options.progress) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        options.progress(fmt::format("[{}/{}] {}: {}{}", index, p.ops.size(), op->label(), tactic,
                                     timer.cache.size() == before ? " (timing cache)" : fmt::format(" ({:.2f} s)", s)));
      }
    }
    if (timer.cache_dirty && !options.timing_cache_path.empty())
      save_timing_cache(options.timing_cache_path, timer.cache);
  } catch (...) {
    cleanup();
    throw;
  }
  cleanup();
}

class CudaEngine : public Engine {
 public:
  explicit CudaEngine(std::shared_ptr<EngineCore> core) : core_(std::move(core)) {}
  const std::vector<TensorInfo>& inputs() const override { return core_->inputs; }
  const std::vector<TensorInfo>& outputs() const override { return core_->outputs; }
  std::string device() const override { return fmt::format("cuda:{}", core_->device); }
  Precision precision() const override { return core_->precision; }
  int max_batch_size() const override { return core_->max_batch; }
  std::unique_ptr<ExecutionContext> create_context() override { return make_cuda_context(core_); }
  const EngineCore& core() const { return *core_; }
  void relabel(Precision precision) { core_->precision = precision; }

  void save_plan(const std::string& path) const override {
    Plan plan;
    plan.graph = core_->lowered.graph;
    plan.backend = "cuda";
    plan.precision = core_->precision;
    plan.max_batch_size = core_->max_batch;
    plan.device = core_->info.to_json();
    nlohmann::json layouts = nlohmann::json::array(), batched = nlohmann::json::array(),
                   tactics = nlohmann::json::array(), input_names = nlohmann::json::array(),
                   output_names = nlohmann::json::array();
    for (Layout l : core_->lowered.layouts) layouts.push_back(static_cast<int>(l));
    for (bool b : core_->lowered.batched) batched.push_back(b);
    for (const auto& op : core_->program.ops) tactics.push_back(op->tactic());
    for (const auto& t : core_->inputs)
      input_names.push_back({{"name", t.name}, {"dims", t.dims}, {"dtype", std::string(dtype_name(t.dtype))}});
    for (const auto& t : core_->outputs)
      output_names.push_back({{"name", t.name}, {"dims", t.dims}, {"dtype", std::string(dtype_name(t.dtype))}});
    plan.backend_data = {{"layouts", layouts},   {"batched", batched},       {"tactics", tactics},
                         {"inputs", input_names}, {"outputs", output_names}, {"cuda_graphs", core_->use_cuda_graphs}};
    kiln::save_plan(plan, path);
  }

 private:
  std::shared_ptr<EngineCore> core_;
};

std::vector<TensorInfo> batch_infos(std::vector<TensorInfo> infos) {
  for (auto& t : infos)
    if (!t.dims.empty()) t.dims[0] = kDynamic;
  return infos;
}

}  // namespace

EngineCore::~EngineCore() {
  if (program.weights) cudaFree(program.weights);
}

std::unique_ptr<Engine> build_cuda_engine(const ir::Graph& graph, const BuildOptions& options, int device,
                                          const quant::CalibrationTable* int8_table,
                                          const std::set<std::string>* int8_nodes) {
  auto core = std::make_shared<EngineCore>();
  core->device = device;
  core->info = query_device(device);
  core->precision = options.precision;
  core->max_batch = options.max_batch_size;
  core->use_cuda_graphs = options.precision != Precision::kNative;
  core->inputs = batch_infos(graph_inputs(graph));
  core->outputs = batch_infos(graph_outputs(graph));
  KILN_CUDA_CALL("engine build", cudaSetDevice(device));
  core->lowered = lower_for_device(graph, options.precision, options.max_batch_size, int8_table, int8_nodes);
  if (options.image_input.enabled) {
    add_image_input(core->lowered, options.image_input);
    const ir::Value& pixels = core->lowered.graph.value(core->lowered.graph.inputs[0]);
    core->inputs[0] = {pixels.name, DType::kU8, {kDynamic, pixels.dims[1], pixels.dims[2], 3}};
  }
  compile(*core);
  plan_arena(*core);
  upload_weights(*core);
  select_tactics(*core, options);
  // Tactics may have changed workspace needs.
  for (const auto& op : core->program.ops) core->workspace_bytes = std::max(core->workspace_bytes, op->workspace_bytes());
  return std::make_unique<CudaEngine>(std::move(core));
}

std::vector<OpTiming> op_timings(const Engine& engine) {
  const auto* cuda = dynamic_cast<const CudaEngine*>(&engine);
  if (!cuda) fail_with(ErrorCode::kInvalidArgument, "op timings exist for CUDA engines only, not {}", engine.device());
  const EngineCore& core = cuda->core();
  const ir::Graph& g = core.lowered.graph;
  // compile() makes one op per lowered node, in order.
  KILN_CHECK(g.nodes.size() == core.program.ops.size(), "{} ops for {} lowered nodes", core.program.ops.size(),
             g.nodes.size());
  std::vector<OpTiming> out;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    out.push_back({n.name, n.op, n.inputs.empty() || n.inputs[0] < 0 ? std::string() : g.value(n.inputs[0]).name,
                   core.program.ops[i]->tactic_ms()});
  }
  return out;
}

void relabel_precision(Engine& engine, Precision precision) {
  auto* cuda = dynamic_cast<CudaEngine*>(&engine);
  if (!cuda) fail_with(ErrorCode::kInvalidArgument, "only CUDA engines are relabelled, not {}", engine.device());
  auto built_alike = [](Precision p) { return p == Precision::kFP16 || p == Precision::kINT8 || p == Precision::kBest; };
  KILN_CHECK(built_alike(precision) && built_alike(cuda->precision()), "relabelling a {} engine as {}",
             precision_name(cuda->precision()), precision_name(precision));
  cuda->relabel(precision);
}

std::unique_ptr<Engine> load_cuda_engine(const Plan& plan, int device) {
  if (plan.backend != "cuda") fail("plan is for the {} backend, not cuda", plan.backend);
  auto core = std::make_shared<EngineCore>();
  core->device = device;
  core->info = query_device(device);
  check_plan_device(plan.device, core->info);
  core->precision = plan.precision;
  core->max_batch = plan.max_batch_size;
  const nlohmann::json& data = plan.backend_data;
  try {
    core->lowered.graph = plan.graph;
    for (const auto& l : data.at("layouts")) core->lowered.layouts.push_back(static_cast<Layout>(l.get<int>()));
    for (const auto& b : data.at("batched")) core->lowered.batched.push_back(b.get<bool>());
    for (const auto& t : data.at("inputs"))
      core->inputs.push_back({t.at("name").get<std::string>(), t.value("dtype", "f32") == "u8" ? DType::kU8 : DType::kF32,
                              t.at("dims").get<Dims>()});
    for (const auto& t : data.at("outputs"))
      core->outputs.push_back({t.at("name").get<std::string>(), dtype_from_name(t.value("dtype", "f32")),
                               t.at("dims").get<Dims>()});
    for (const auto& o : core->outputs)
      if (o.dtype == DType::kUndefined) fail("plan's cuda backend data names an unknown output dtype");
    core->use_cuda_graphs = data.value("cuda_graphs", true);
  } catch (const nlohmann::json::exception& e) {
    fail("plan's cuda backend data is damaged: {}", e.what());
  }
  const size_t n_values = core->lowered.graph.values.size();
  if (core->lowered.layouts.size() != n_values || core->lowered.batched.size() != n_values)
    fail("plan's cuda backend data describes {} values but its graph has {}", core->lowered.layouts.size(), n_values);
  KILN_CUDA_CALL("loading plan", cudaSetDevice(device));
  compile(*core);
  const auto& tactics = data.at("tactics");
  if (tactics.size() != core->program.ops.size())
    fail("plan has {} tactics for {} ops", tactics.size(), core->program.ops.size());
  for (size_t i = 0; i < tactics.size(); ++i)
    if (!tactics[i].is_null()) core->program.ops[i]->set_tactic(tactics[i]);
  plan_arena(*core);
  upload_weights(*core);
  return std::make_unique<CudaEngine>(std::move(core));
}

}  // namespace kiln::cuda
