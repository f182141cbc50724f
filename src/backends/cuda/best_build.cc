#include "backends/cuda/best_build.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

#include "backends/cuda/cuda_engine.h"
#include "backends/cuda/int8/int8_lowering.h"
#include "backends/cuda/layer_precision_choice.h"

namespace kiln::cuda {

namespace {

namespace fs = std::filesystem;

// Mixed engines built to check the choice against the layers' real neighbours, at most.
constexpr int kCheckRounds = 2;

bool is_conv(const ir::Node& n) { return n.op == "Conv" || (n.op == "FusedConv" && n.domain == "kiln"); }

// Runs one phase; its errors name the phase so a failure says which engine did not build.
template <class F>
auto in_phase(const std::string& phase, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(fmt::format("--precision best, {}: {}", phase, e.what()), e.code());
  } catch (const std::exception& e) {
    throw Error(fmt::format("--precision best, {}: {}", phase, e.what()), ErrorCode::kInternal);
  }
}

// The timing cache the phases share: the user's file, or a temporary one removed at the end.
class SharedTimingCache {
 public:
  explicit SharedTimingCache(const std::string& user_path) : path_(user_path) {
    if (!path_.empty()) return;
    static int counter = 0;
    path_ = (fs::temp_directory_path() / fmt::format("kiln-best-{}-{}.timing-cache", ::getpid(), ++counter)).string();
    temporary_ = true;
  }
  ~SharedTimingCache() {
    std::error_code ec;
    if (temporary_) fs::remove(path_, ec);
  }
  SharedTimingCache(const SharedTimingCache&) = delete;
  SharedTimingCache& operator=(const SharedTimingCache&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool temporary_ = false;
};

BuildOptions phase_options(const BuildOptions& options, Precision precision, const std::string& cache,
                           const std::string& tag) {
  BuildOptions o = options;
  o.precision = precision;
  o.timing_cache_path = cache;
  if (options.progress)
    o.progress = [progress = options.progress, tag](const std::string& line) {
      progress(fmt::format("[best: {}] {}", tag, line));
    };
  return o;
}

// node name -> tactic ms of the ops of `engine` whose op is one of `ops`.
std::map<std::string, double> times_of(const std::vector<OpTiming>& timings, std::initializer_list<const char*> ops) {
  std::map<std::string, double> out;
  for (const OpTiming& t : timings)
    for (const char* op : ops)
      if (t.op == op) out[t.node] = t.ms;
  return out;
}

// Timed runs of a whole engine (after two warm-up runs), of which the median counts.
constexpr int kEngineRuns = 7;

// Device compute time of one run of `engine` at its largest batch: the median over
// kEngineRuns runs on seeded random inputs (the data does not change the work done).
double engine_compute_ms(Engine& engine) {
  std::vector<Tensor> inputs;
  std::mt19937 rng(20261127);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (const TensorInfo& info : engine.inputs()) {
    Dims dims = info.dims;
    if (!dims.empty() && dims[0] == kDynamic) dims[0] = engine.max_batch_size();
    Tensor t(info.dtype, dims);
    if (info.dtype == DType::kF32)
      for (float& v : t.span<float>()) v = dist(rng);
    inputs.push_back(std::move(t));
  }
  auto context = engine.create_context();
  std::vector<Tensor> outputs;
  std::vector<double> ms;
  for (int i = 0; i < kEngineRuns + 2; ++i) {
    const Status status = context->run(inputs, &outputs);
    if (!status.ok()) throw Error(status.message(), status.code());
    if (i >= 2) ms.push_back(context->last_timing().compute_ms);
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

// The fastest whole engine seen so far. Per-layer choices add up tactic times measured one
// layer at a time, which miss what layers cost each other (an INT8 chain pays no conversion
// between its layers, a mixed engine pays one at every change of precision); the engines
// themselves are compared by running them.
class FastestEngine {
 public:
  // Times `engine` and keeps it if it is the fastest yet (then the previous one is freed).
  void offer(std::unique_ptr<Engine> engine, const std::string& name, const std::function<void(const std::string&)>& progress) {
    const double ms = engine_compute_ms(*engine);
    progress(fmt::format("{} engine: {:.3f} ms per batch of {} (compute, median of {} runs)", name, ms,
                         engine->max_batch_size(), kEngineRuns));
    if (!engine_ || ms < ms_) {
      engine_ = std::move(engine);
      ms_ = ms;
      name_ = name;
    }
  }
  const std::string& name() const { return name_; }
  std::unique_ptr<Engine> take() { return std::move(engine_); }

 private:
  std::unique_ptr<Engine> engine_;
  double ms_ = 0;
  std::string name_;
};

// Elements of a value at max batch (dims[0] is the batch for activations).
double elements_at(const ir::Value& v, int max_batch) {
  double n = v.dims.empty() ? 1 : max_batch;
  for (size_t i = 1; i < v.dims.size(); ++i) n *= static_cast<double>(std::max<int64_t>(v.dims[i], 1));
  return n;
}

// A QuantizeInt8 reads f16 and writes int8: 3 bytes per element. The INT8 probe engine's
// conversions give the achieved bandwidth; a conversion it timed is used as is, others are
// estimated from their size at that bandwidth.
class QuantizeCost {
 public:
  QuantizeCost(const ir::Graph& graph, const std::vector<OpTiming>& int8_timings, int max_batch)
      : graph_(graph), max_batch_(max_batch) {
    std::map<std::string, int> by_name;
    for (size_t v = 0; v < graph.values.size(); ++v) by_name[graph.values[v].name] = static_cast<int>(v);
    double bytes = 0, ms = 0;
    for (const OpTiming& t : int8_timings) {
      if (t.op != "QuantizeInt8" || t.ms <= 0) continue;
      const std::string suffix = ":int8";
      if (t.node.size() <= suffix.size()) continue;
      const std::string value = t.node.substr(0, t.node.size() - suffix.size());
      measured_[value] = t.ms;
      if (auto it = by_name.find(value); it != by_name.end()) {
        bytes += 3 * elements_at(graph.value(it->second), max_batch);
        ms += t.ms;
      }
    }
    bytes_per_ms_ = ms > 0 ? bytes / ms : 0;
  }
  // 0 when nothing was measured: the check of the mixed engine still sees the real cost.
  double of(int value) const {
    const ir::Value& v = graph_.value(value);
    if (auto it = measured_.find(v.name); it != measured_.end()) return it->second;
    return bytes_per_ms_ > 0 ? 3 * elements_at(v, max_batch_) / bytes_per_ms_ : 0;
  }

 private:
  const ir::Graph& graph_;
  int max_batch_;
  std::map<std::string, double> measured_;
  double bytes_per_ms_ = 0;
};

// First choice, from the FP16 and all-INT8 probe engines.
std::vector<LayerChoice> first_choice(const ir::Graph& graph, const quant::CalibrationTable& table,
                                      const std::map<std::string, double>& fp16_ms,
                                      const std::vector<OpTiming>& int8_timings, int max_batch) {
  const std::map<std::string, double> int8_ms = times_of(int8_timings, {"Int8Conv"});
  const QuantizeCost quantize(graph, int8_timings, max_batch);
  // Where every eligible convolution runs in INT8, which values stay INT8 between two.
  const int8::Int8Plan all_int8 = int8::plan_int8_convs(graph, table);
  std::vector<int> producer(graph.values.size(), -1);
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (int v : graph.nodes[i].outputs)
      if (v >= 0) producer[static_cast<size_t>(v)] = static_cast<int>(i);
  std::vector<ConvTiming> convs;
  for (const ir::Node& n : graph.nodes) {
    if (!is_conv(n)) continue;
    ConvTiming c;
    c.node = n.name;
    if (auto it = fp16_ms.find(n.name); it != fp16_ms.end()) c.fp16_ms = it->second;
    if (auto it = int8_ms.find(n.name); it != int8_ms.end()) c.int8_ms = it->second;
    const int x = n.inputs[0];
    c.quantize_ms = quantize.of(x);
    if (all_int8.value_is_int8[static_cast<size_t>(x)] && producer[static_cast<size_t>(x)] >= 0)
      c.producer = graph.nodes[static_cast<size_t>(producer[static_cast<size_t>(x)])].name;
    convs.push_back(std::move(c));
  }
  return choose_layer_precisions(convs);
}

// The INT8 convolutions of a mixed engine against their FP16 times, with what they really
// cost there: their own tactic and their share of the conversion of their input.
std::vector<LayerChoice> check_mixed(const std::vector<OpTiming>& mixed, const std::map<std::string, double>& fp16_ms,
                                     const std::map<std::string, double>& probe_int8_ms) {
  std::map<std::string, double> quantize_ms;  // converted value -> conversion time
  std::map<std::string, int> readers;         // converted value -> INT8 convolutions reading it
  for (const OpTiming& t : mixed)
    if (t.op == "QuantizeInt8") quantize_ms[t.node] = t.ms;
  for (const OpTiming& t : mixed)
    if (t.op == "Int8Conv" && quantize_ms.count(t.input)) ++readers[t.input];
  std::vector<ConvTiming> convs;
  for (const OpTiming& t : mixed) {
    if (t.op != "Int8Conv") continue;
    ConvTiming c;
    c.node = t.node;
    c.int8_ms = t.ms;
    if (c.int8_ms <= 0)  // not timed again: the probe's time
      if (auto it = probe_int8_ms.find(t.node); it != probe_int8_ms.end()) c.int8_ms = it->second;
    if (auto it = fp16_ms.find(t.node); it != fp16_ms.end()) c.fp16_ms = it->second;
    if (auto it = quantize_ms.find(t.input); it != quantize_ms.end()) c.quantize_ms = it->second / readers[t.input];
    convs.push_back(std::move(c));
  }
  // The margin was asked of the first choice; here INT8 only has to be faster.
  return choose_layer_precisions(convs, 0.0);
}

}  // namespace

std::unique_ptr<Engine> build_best_engine(const ir::Graph& graph, const BuildOptions& options, int device,
                                          const quant::CalibrationTable& table) {
  const SharedTimingCache cache(options.timing_cache_path);
  auto progress = [&](const std::string& line) {
    if (options.progress) options.progress("[best] " + line);
  };

  FastestEngine fastest;
  progress("phase 1/4: FP16 engine, timing every layer");
  const std::map<std::string, double> fp16_ms = in_phase("phase 1/4 (FP16 engine)", [&] {
    auto engine = build_cuda_engine(graph, phase_options(options, Precision::kFP16, cache.path(), "fp16"), device);
    auto ms = times_of(op_timings(*engine), {"Conv", "FusedConv"});
    fastest.offer(std::move(engine), "FP16", progress);
    return ms;
  });

  progress("phase 2/4: INT8 engine, timing every eligible convolution in INT8");
  const std::vector<OpTiming> int8_timings = in_phase("phase 2/4 (INT8 engine)", [&] {
    auto engine =
        build_cuda_engine(graph, phase_options(options, Precision::kINT8, cache.path(), "int8"), device, &table);
    auto timings = op_timings(*engine);
    fastest.offer(std::move(engine), "all-INT8", progress);
    return timings;
  });
  const std::map<std::string, double> probe_int8_ms = times_of(int8_timings, {"Int8Conv"});

  std::vector<LayerChoice> choices = in_phase("phase 3/4 (per-layer choice)", [&] {
    return first_choice(graph, table, fp16_ms, int8_timings, options.max_batch_size);
  });
  std::map<std::string, std::string> reason;  // node -> why, updated by the checks
  for (const LayerChoice& c : choices) reason[c.node] = c.reason;
  std::set<std::string> int8_nodes = int8_nodes_of(choices);
  progress(fmt::format("phase 3/4: {} of {} convolutions chosen for INT8", int8_nodes.size(), choices.size()));

  const BuildOptions mixed_options = phase_options(options, Precision::kBest, cache.path(), "mixed");
  std::unique_ptr<Engine> engine;
  for (int round = 0;; ++round) {
    const std::string phase = round == 0 ? "phase 4/4 (mixed engine)" : fmt::format("phase 4/4 (mixed engine, rebuild {})", round);
    progress(fmt::format("{}: {} INT8 convolutions", phase, int8_nodes.size()));
    engine.reset();  // its GPU memory, before the next one is built
    engine = in_phase(phase, [&] { return build_cuda_engine(graph, mixed_options, device, &table, &int8_nodes); });
    if (int8_nodes.empty() || round == kCheckRounds) break;
    const std::vector<LayerChoice> checked =
        in_phase(phase, [&] { return check_mixed(op_timings(*engine), fp16_ms, probe_int8_ms); });
    int demoted = 0;
    for (const LayerChoice& c : checked) {
      if (c.int8) {
        reason[c.node] = c.reason;
      } else if (int8_nodes.erase(c.node)) {
        reason[c.node] = "fp16: in the mixed engine " + c.reason;
        ++demoted;
      }
    }
    if (demoted == 0) break;
    progress(fmt::format("{}: {} INT8 convolution(s) slower than FP16 beside their real neighbours; back to FP16",
                         phase, demoted));
  }

  in_phase("phase 4/4 (whole engines)", [&] { fastest.offer(std::move(engine), "mixed", progress); });
  // Which convolutions run in INT8 in the engine kept, and why.
  const std::string& winner = fastest.name();
  if (winner != "mixed") {
    const int8::Int8Plan all_int8 = int8::plan_int8_convs(graph, table);
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      const std::string& node = graph.nodes[i].name;
      if (!reason.count(node)) continue;
      if (winner == "FP16") {
        int8_nodes.erase(node);
        reason[node] = "fp16: the FP16 engine ran faster than the all-INT8 and the mixed ones";
      } else if (all_int8.conv_runs_int8[i]) {
        int8_nodes.insert(node);
        reason[node] = "int8: the all-INT8 engine ran faster than the FP16 and the mixed ones";
      } else {
        int8_nodes.erase(node);
        reason[node] = "fp16: not eligible for INT8 (it stays FP16 in the all-INT8 engine)";
      }
    }
  }
  int int8_count = 0;
  for (const LayerChoice& c : choices) {
    int8_count += int8_nodes.count(c.node) > 0;
    progress(fmt::format("{}: {}", c.node, reason[c.node]));
  }
  progress(fmt::format("{} of {} convolutions run in INT8, the rest in FP16 (the {} engine)", int8_count,
                       choices.size(), winner));
  std::unique_ptr<Engine> kept = fastest.take();
  relabel_precision(*kept, Precision::kBest);
  return kept;
}

}  // namespace kiln::cuda
