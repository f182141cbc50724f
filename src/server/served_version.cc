#include "server/served_version.h"

#include <filesystem>
#include <random>

#include "engine/plan_format.h"
#include "runtime/model_loader.h"
#include "server/metrics.h"

namespace kiln::server {

namespace fs = std::filesystem;

std::string find_model_file(const std::string& version_dir) {
  const fs::path dir(version_dir);
  std::error_code ec;
  for (const char* name : {"model.plan", "model.onnx", "model.pb"})
    if (fs::is_regular_file(dir / name, ec)) return (dir / name).string();
  if (fs::is_regular_file(dir / "saved_model.pb", ec)) return dir.string();
  std::vector<fs::path> candidates;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file(ec) && (ext == ".onnx" || ext == ".pb" || ext == ".plan")) candidates.push_back(e.path());
  }
  if (candidates.size() == 1) return candidates[0].string();
  if (candidates.size() > 1)
    fail_with(ErrorCode::kInvalidArgument, "{}: several model files ({} and {}); name one model.onnx or model.plan",
              version_dir, candidates[0].filename().string(), candidates[1].filename().string());
  fail_with(ErrorCode::kNotFound,
            "{}: no model file (looked for model.plan, model.onnx, saved_model.pb, *.onnx, *.pb)", version_dir);
}

namespace {

std::vector<std::pair<std::string, std::string>> read_metadata(const std::string& path) {
  // The image preprocessing: a plan keeps its model's metadata (a pixel plan's resize and
  // crop come from it); failures give none.
  try {
    if (detect_model_format(path) == ModelFormat::kPlan) return load_plan(path).graph.metadata;
    return import_model(path).metadata;
  } catch (const Error&) {
    return {};
  }
}

// A batch of one row of non-zero, deterministic values for each input.
std::vector<Tensor> warmup_inputs(const std::vector<TensorInfo>& inputs, int64_t rows) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  std::vector<Tensor> out;
  for (const TensorInfo& info : inputs) {
    Dims dims = info.dims;
    if (!dims.empty()) dims[0] = rows;
    for (auto& d : dims) if (d == kDynamic) d = 1;
    Tensor f(DType::kF64, dims);
    for (double& v : f.span<double>()) v = dist(rng);
    out.push_back(info.dtype == DType::kF64 ? f : f.cast(info.dtype));
  }
  return out;
}

}  // namespace

std::shared_ptr<ServedVersion> ServedVersion::load(const ModelConfig& config, int64_t version,
                                                   const std::string& version_dir, ServerMetrics* metrics) {
  std::shared_ptr<ServedVersion> v(new ServedVersion());
  v->name_ = config.name;
  v->version_ = version;
  v->model_path_ = find_model_file(version_dir);

  const std::vector<std::string> devices = config.devices.empty() ? std::vector<std::string>{config.device}
                                                                  : config.devices;
  BuildOptions build;
  build.precision = parse_precision(config.precision);
  build.max_batch_size = config.max_batch_size;
  std::vector<EngineInstance> instances;
  for (const std::string& device : devices) {
    build.device = device;
    std::shared_ptr<Engine> engine = load_engine(v->model_path_, build);
    if (v->inputs_.empty()) {
      v->inputs_ = engine->inputs();
      v->outputs_ = engine->outputs();
    }
    for (int i = 0; i < config.instances_per_device; ++i) instances.push_back({engine, engine->create_context()});
  }
  KILN_CHECK(!v->inputs_.empty(), "{}: the model has no inputs", v->model_path_);

  BatcherOptions options;
  options.max_batch_size = std::min(config.max_batch_size, instances[0].engine->max_batch_size());
  options.batch_timeout_micros = config.batch_timeout_micros;
  options.max_queue_size = config.max_queue_size;
  options.request_timeout_micros = config.request_timeout_micros;
  // An engine whose batch dimension is fixed runs exactly that many rows per batch.
  const int64_t batch_dim = v->inputs_[0].dims.empty() ? kDynamic : v->inputs_[0].dims[0];
  for (const TensorInfo& in : v->inputs_)
    if (in.dims.empty())
      fail("{}: input \"{}\" is a scalar; served models need a batch dimension", v->model_path_, in.name);
  if (batch_dim != kDynamic) {
    KILN_CHECK(batch_dim >= 1, "{}: input \"{}\" has batch dimension {}", v->model_path_, v->inputs_[0].name,
               batch_dim);
    options.max_batch_size = static_cast<int>(batch_dim);
    options.pad_to_max_batch = true;
  }
  for (int p : config.preferred_batch_sizes)
    if (p <= options.max_batch_size) options.preferred_batch_sizes.push_back(p);

  v->image_ = image_input_spec(v->inputs_, read_metadata(v->model_path_), config.image_input);

  const std::string name = config.name;
  v->batcher_ = std::make_unique<DynamicBatcher>(options, std::move(instances), [metrics, name](int64_t rows) {
    if (metrics) metrics->observe_batch_size(name, rows);
  });

  // Warm-up: the first run pays for allocation and lazy initialization, not a client.
  InferenceResult warm = v->batcher_->infer(warmup_inputs(v->inputs_, 1));
  if (!warm.status.ok())
    fail_with(warm.status.code(), "{}: warm-up run failed: {}", v->model_path_, warm.status.message());
  return v;
}

ServedVersion::~ServedVersion() { stop(); }

void ServedVersion::stop() {
  if (batcher_) batcher_->stop();
}

int ServedVersion::input_index(std::string_view name) const {
  for (size_t i = 0; i < inputs_.size(); ++i)
    if (inputs_[i].name == name) return static_cast<int>(i);
  return -1;
}

Status ServedVersion::check_inputs(const std::vector<Tensor>& inputs) const {
  if (inputs.size() != inputs_.size())
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("the model takes {} inputs, the request gave {}", inputs_.size(), inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorInfo& want = inputs_[i];
    const Tensor& got = inputs[i];
    if (got.dtype() != want.dtype)
      return Status(ErrorCode::kInvalidArgument, fmt::format("input \"{}\": expected dtype {}, got {}", want.name,
                                                             dtype_name(want.dtype), dtype_name(got.dtype())));
    bool ok = got.rank() == static_cast<int64_t>(want.dims.size()) && got.rank() >= 1;
    for (size_t d = 1; ok && d < want.dims.size(); ++d)
      ok = want.dims[d] == kDynamic || want.dims[d] == got.dims()[d];
    if (!ok)
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("input \"{}\": expected shape {}, got {}", want.name, dims_to_string(want.dims),
                                dims_to_string(got.dims())));
  }
  return Status();
}

}  // namespace kiln::server
