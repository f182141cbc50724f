// `kiln bench MODEL --image X.jpg --native --fp32 --fp16 ...`: for each precision mode,
// build an engine, classify the image, measure throughput and latency (end to end and
// compute, like trtexec) and the speedup over native; then a table of all modes, and
// log.txt, results.json and chart.svg in the output folder.
//
// The flags of TensorFlow's TF-TRT benchmark script work as written (--frozen_graph,
// --image_file, --FP32, --num_loops, --output_dir ...); see normalize_flag_spellings.
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/agreement.h"
#include "cli/bench_chart.h"
#include "cli/bench_report.h"
#include "cli/bench_timing.h"
#include "cli/classify.h"
#include "cli/parse_flags.h"
#include "cli/subcommands.h"

namespace kiln::cli {

namespace {

namespace fs = std::filesystem;

// Everything printed goes to stdout (or stderr for progress) and into log.txt.
class BenchLog {
 public:
  void out(const std::string& s) {
    std::fputs(s.c_str(), stdout);
    std::fflush(stdout);
    text_ += s;
  }
  void progress(const std::string& s) {
    std::fprintf(stderr, "%s\n", s.c_str());
    text_ += s + "\n";
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail("{}: cannot create file", path.string());
  f << content;
  if (!f) fail("{}: write failed", path.string());
}

// The one-image batch [1, ...] repeated to [n, ...].
Tensor replicate(const Tensor& one, int n) {
  Dims dims = one.dims();
  dims[0] = n;
  Tensor batch(one.dtype(), dims);
  for (int i = 0; i < n; ++i)
    std::memcpy(static_cast<char*>(batch.raw()) + static_cast<size_t>(i) * one.nbytes(), one.raw(), one.nbytes());
  return batch;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

struct BenchSettings {
  std::string image;
  std::string device;
  int batch_size = 1;
  TimingPlan timing;
  std::string calib_data;
  std::string calibrator = "entropy";
  std::vector<std::string> eval_images;  // agreement of reduced precisions with FP32
};

// The FP32 engine's classification of the evaluation photos, computed once when the first
// reduced-precision mode needs it.
class Fp32Reference {
 public:
  const ClassifiedImages& get(const LoadedModel& model, const BenchSettings& s, const std::vector<std::string>& labels,
                              BenchLog& log) {
    if (!outputs_) {
      BuildOptions options;
      options.device = s.device;
      options.precision = Precision::kFP32;
      options.max_batch_size = s.batch_size;
      log.progress(fmt::format("[fp32 reference] building, then classifying {} evaluation photos", s.eval_images.size()));
      auto engine = model.build(options);
      outputs_ = classify_images(*engine, s.eval_images, model.preprocess(), labels, s.batch_size, fixed_batch(model));
    }
    return *outputs_;
  }
  static bool fixed_batch(const LoadedModel& model) {
    return !model.inputs().empty() && !model.inputs()[0].dims.empty() && model.inputs()[0].dims[0] > 0;
  }

 private:
  std::optional<ClassifiedImages> outputs_;
};

ModeResult bench_mode(const LoadedModel& model, const std::string& mode, const BenchSettings& s,
                      const Tensor& batch, const std::vector<std::string>& labels, BenchLog& log,
                      Fp32Reference& reference) {
  ModeResult r;
  r.mode = mode;
  BuildOptions options;
  options.device = s.device;
  options.precision = parse_precision(mode);
  options.max_batch_size = s.batch_size;
  options.calib_data_dir = s.calib_data;
  options.calibrator = s.calibrator;
  options.progress = [&log, &mode](const std::string& line) { log.progress(fmt::format("[{}] {}", mode, line)); };

  std::unique_ptr<Engine> engine;
  const auto t0 = std::chrono::steady_clock::now();
  log.progress(fmt::format("[{}] building the engine on {}", mode, s.device));
  try {
    engine = model.build(options);
  } catch (const Error& e) {
    r.status = "skipped: " + first_line(e.what());
    return r;
  }
  r.build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  try {
    std::unique_ptr<ExecutionContext> context = engine->create_context();
    // A plan built with --image-input takes the resized uint8 pixels: 4x fewer bytes to copy.
    const Tensor pixels = engine->inputs().at(0).dtype == DType::kU8
                              ? replicate(load_image_batch_for(*engine, {s.image}, model.preprocess()), s.batch_size)
                              : Tensor();
    const Tensor& input = pixels.empty() ? batch : pixels;
    const std::vector<Tensor> outputs = run_or_throw(*context, {input});
    KILN_CHECK(!outputs.empty(), "the model produced no outputs");
    r.top5 = top_predictions(outputs[0], labels, 5).at(0);
    log.progress(fmt::format("[{}] timing", mode));
    const TimingResult t = time_runs(*context, {input}, s.timing);
    r.iterations = static_cast<int>(t.total_ms.size());
    r.throughput = t.elapsed_s > 0 ? static_cast<double>(r.iterations) * s.batch_size / t.elapsed_s : 0;
    r.latency = summarize(t.total_ms);
    bool reported = false;
    for (double c : t.compute_ms) reported = reported || c > 0;
    if (reported) r.compute = summarize(t.compute_ms);
  } catch (const Error& e) {
    r.status = "failed: " + first_line(e.what());
    return r;
  }
  // Quantization and narrow floats trade accuracy for speed: say how much, on real photos.
  if (mode != "native" && mode != "fp32" && !s.eval_images.empty() && !model.is_plan()) {
    try {
      log.progress(fmt::format("[{}] agreement with fp32 over {} photos", mode, s.eval_images.size()));
      const ClassifiedImages& ref = reference.get(model, s, labels, log);
      const ClassifiedImages got = classify_images(*engine, s.eval_images, model.preprocess(), labels, s.batch_size,
                                                   Fp32Reference::fixed_batch(model));
      r.agreement_vs_fp32 = compare_classifications(got, ref);
    } catch (const Error& e) {
      r.agreement_status = "agreement not measured: " + first_line(e.what());
    }
  }
  return r;
}

}  // namespace

int run_bench(int argc, char** argv) {
  CLI::App app{"Benchmark a model per precision: top-5, throughput, latency, speedup vs native", "kiln bench"};
  app.option_defaults()->ignore_case();  // TF-TRT's script spells them --FP32, --INT8
  std::string model, output_dir = "bench-out", labels_path, device;
  BenchSettings s;
  double duration = 0;
  constexpr int kModeCount = 8;
  bool want[kModeCount] = {};
  const char* kModes[kModeCount] = {"native", "fp32", "tf32", "fp16", "bf16", "int8", "fp8", "best"};
  app.add_option("model,--frozen-graph,--model", model, "ONNX model, TensorFlow graph or kiln plan")->required();
  app.add_option("--image,--image-file", s.image, "the image to classify and replicate to the batch")->required();
  for (int i = 0; i < kModeCount; ++i)
    app.add_flag(fmt::format("--{}", kModes[i]), want[i], fmt::format("benchmark the {} engine", kModes[i]));
  app.add_option("--batch-size", s.batch_size, "images per batch")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--device", device, "cpu, cuda or cuda:N (default: a GPU if present)");
  auto* iters = app.add_option("--iterations,--num-loops", s.timing.iterations, "timed batches per mode")
                    ->check(CLI::Range(1, 1000000));
  app.add_option("--duration", duration, "time each mode for at least this many seconds (default 5)")
      ->check(CLI::Range(0.0, 86400.0))
      ->excludes(iters);
  app.add_option("--warmup", s.timing.warmup, "untimed batches before timing")->capture_default_str()->check(CLI::Range(0, 100000));
  app.add_option("--output-dir", output_dir, "where log.txt, results.json and chart.svg go")->capture_default_str();
  app.add_option("--labels", labels_path, "class names, one per line (default: data/imagenet_classes.txt)");
  app.add_option("--calib-data", s.calib_data, "images or .npy tensors for int8/fp8/best calibration");
  std::string eval_dir;
  app.add_option("--eval-images", eval_dir,
                 "photos on which each reduced precision is compared with fp32 (default: the image's folder)");
  app.add_option("--calibrator", s.calibrator, "int8/fp8/best calibrator: entropy, percentile or minmax")
      ->capture_default_str()
      ->check(CLI::IsMember({"entropy", "percentile", "minmax"}));
  if (auto exit_code = parse_flags(app, argc, argv)) return *exit_code;
  if (s.timing.iterations == 0) s.timing.duration_s = duration > 0 ? duration : 5.0;
  s.device = device.empty() ? best_device() : device;

  std::vector<std::string> modes;
  for (int i = 0; i < kModeCount; ++i) if (want[i]) modes.push_back(kModes[i]);
  if (modes.empty()) modes.push_back("native");
  if (s.calib_data.empty()) s.calib_data = fs::path(s.image).parent_path().string();
  if (!eval_dir.empty()) {
    s.eval_images = list_images(eval_dir, "--eval-images");
  } else {
    try {
      s.eval_images = list_images(fs::path(s.image).parent_path().empty() ? "." : fs::path(s.image).parent_path().string(),
                                  "the image's folder");
    } catch (const Error&) {
      // no photos beside the image: no agreement report unless --eval-images names some
    }
  }

  BenchLog log;
  BenchReport report;
  report.model = model;
  report.device = s.device;
  report.batch_size = s.batch_size;
  report.date = utc_timestamp_now();
  report.command = "kiln";
  for (int i = 0; i < argc; ++i) report.command += std::string(" ") + argv[i];

  // Inputs are checked before the slow part, so a bad path fails in milliseconds.
  const std::vector<std::string> labels = load_labels_or_default(labels_path);
  LoadedModel loaded(model);
  if (!loaded.inputs().empty() && !loaded.inputs()[0].dims.empty() && loaded.inputs()[0].dims[0] > 0 &&
      loaded.inputs()[0].dims[0] != s.batch_size) {
    log.progress(fmt::format("note: {} has a fixed batch size of {}; using it instead of --batch-size {}", model,
                             loaded.inputs()[0].dims[0], s.batch_size));
    s.batch_size = static_cast<int>(loaded.inputs()[0].dims[0]);
    report.batch_size = s.batch_size;
  }
  const Tensor batch = replicate(load_image_batch({s.image}, loaded.preprocess()), s.batch_size);
  std::error_code ec;
  fs::create_directories(output_dir, ec);
  if (ec) fail("--output-dir {}: cannot create the folder: {}", output_dir, ec.message());

  log.out(fmt::format("kiln bench  {}\nmodel       {}\nimage       {}\ndevice      {}\nbatch size  {}\nmodes       {}\n"
                      "timing      {} warmup, {}\n\n",
                      report.date, model, s.image, s.device, s.batch_size, fmt::join(modes, " "), s.timing.warmup,
                      s.timing.iterations ? fmt::format("{} iterations", s.timing.iterations)
                                          : fmt::format("at least {:.1f} s", s.timing.duration_s)));
  Fp32Reference reference;
  for (const std::string& mode : modes) {
    log.out(fmt::format("== {} ==\n", mode));
    report.modes.push_back(bench_mode(loaded, mode, s, batch, labels, log, reference));
    compute_speedups(report);
    log.out(format_mode_result(report.modes.back(), s.batch_size) + "\n");
  }
  log.out("== summary ==\n" + format_comparison_table(report));

  const fs::path dir(output_dir);
  write_file(dir / "results.json", report_to_json(report));
  write_file(dir / "chart.svg", render_bench_chart(report));
  log.out(fmt::format("\nwrote {}, {}, {}\n", (dir / "log.txt").string(), (dir / "results.json").string(),
                      (dir / "chart.svg").string()));
  write_file(dir / "log.txt", log.text());
  bool any_ok = false;
  for (const ModeResult& m : report.modes) any_ok = any_ok || m.ok();
  return any_ok ? kExitOk : kExitError;
}

}  // namespace kiln::cli
