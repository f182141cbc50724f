// `kiln build --input-model MODEL --output-model DIR/1 --precision fp16 --batch-size 8`:
// imports the model, optimizes it, builds an engine for the device and writes it as
// DIR/1/model.plan, a version directory the server can load as is.
//
// The flags of TF-TRT's conversion script work as written (--input_model_dir,
// --output_model_dir, --precision_mode, --batch_size); see normalize_flag_spellings.
#include <chrono>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/subcommands.h"
#include "engine/engine.h"
#include "image/preprocess.h"
#include "ir/graph.h"
#include "passes/pipeline.h"
#include "quant/calibration_data.h"
#include "runtime/model_loader.h"

namespace kiln::cli {

namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string human_bytes(uintmax_t n) {
  if (n >= (1u << 20)) return fmt::format("{:.1f} MiB", n / 1048576.0);
  if (n >= (1u << 10)) return fmt::format("{:.1f} KiB", n / 1024.0);
  return fmt::format("{} B", n);
}

// "DIR/1" names a version directory that gets model.plan; a path ending in .plan is the file itself.
fs::path plan_path_for(const std::string& output) {
  fs::path out(output);
  return out.extension() == ".plan" ? out : out / "model.plan";
}

}  // namespace

int run_build(int argc, char** argv) {
  CLI::App app{"Build an engine plan from a model, ready to serve", "kiln build"};
  std::string input, output, precision_text = "fp32", device;
  BuildOptions options;
  app.add_option("--input-model,--input-model-dir", input, "ONNX model or TensorFlow SavedModel/frozen graph")
      ->required();
  app.add_option("--output-model,--output-model-dir", output,
                 "version directory to write model.plan into (e.g. models/resnet/1), or a .plan file")
      ->required();
  app.add_option("--precision,--precision-mode", precision_text, "native, fp32, tf32, fp16, bf16, int8, fp8 or best")
      ->capture_default_str();
  app.add_option("--batch-size,--max-batch-size", options.max_batch_size, "largest batch the engine accepts")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--device", device, "cpu or cuda:N (default: the first GPU if there is one, else cpu)");
  app.add_option("--timing-cache", options.timing_cache_path, "file of tactic timings reused across builds");
  app.add_option("--calib-data", options.calib_data_dir, "folder of calibration images or .npy tensors (int8/fp8/best)");
  app.add_option("--calib-batches", options.calib_batches, "number of calibration batches")->check(CLI::NonNegativeNumber);
  app.add_option("--calibrator", options.calibrator, "entropy, percentile or minmax")
      ->capture_default_str()
      ->check(CLI::IsMember({"entropy", "percentile", "minmax"}));
  app.add_option("--calib-cache", options.calib_cache_path, "calibration scale cache to read or write");
  bool image_input = false;
  app.add_flag("--image-input", image_input,
               "take uint8 [N,H,W,3] RGB pixels (resized and cropped) and normalize them on the GPU: "
               "4x fewer bytes per request than float tensors");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;  // --help prints and succeeds
  }

  options.precision = parse_precision(precision_text);
  options.device = device.empty() ? best_device() : device;
  options.progress = [](const std::string& line) { std::fprintf(stderr, "  %s\n", line.c_str()); };
  const fs::path plan_path = plan_path_for(output);
  const auto start = std::chrono::steady_clock::now();

  // The backend first: a missing GPU is reported before minutes of import and optimization.
  std::unique_ptr<Backend> backend = make_backend(options.device);
  // best chooses between INT8 and FP16 per layer: it needs the INT8 ranges too.
  const bool quantized = options.precision == Precision::kINT8 || options.precision == Precision::kFP8 ||
                         options.precision == Precision::kBest;
  if (quantized && !options.calib_data_dir.empty())
    quant::list_calibration_files(options.calib_data_dir);  // a bad folder fails before the import
  std::fprintf(stderr, "importing %s\n", input.c_str());
  ir::Graph graph = import_model(input);
  if (image_input) {
    if (options.device.rfind("cuda", 0) != 0)
      fail_with(ErrorCode::kInvalidArgument, "--image-input normalizes images on the GPU; it needs --device cuda[:N]");
    // The normalization the model's metadata states (ImageNet's when it states none).
    const image::Preprocess pre = image::preprocess_from_metadata(graph.metadata);
    options.image_input.enabled = true;
    for (int c = 0; c < 3; ++c) {
      options.image_input.mean[c] = pre.mean[static_cast<size_t>(c)];
      options.image_input.std[c] = pre.std[static_cast<size_t>(c)];
    }
    options.image_input.scale = pre.scale;
    options.image_input.bgr = pre.bgr;
  }
  if (quantized && options.calib_data_dir.empty() && !quant::has_qdq_nodes(graph) &&
      (options.calib_cache_path.empty() || !fs::exists(options.calib_cache_path)))
    fail_with(ErrorCode::kInvalidArgument,
              "--precision {} needs activation ranges for {}: pass --calib-data DIR (a folder of a few hundred "
              "representative images, or .npy input tensors) and optionally --calib-cache FILE to keep the result "
              "for later builds; or quantize the model explicitly (QuantizeLinear/DequantizeLinear)",
              precision_name(options.precision), input);
  std::fprintf(stderr, "optimizing for %s (%zu nodes)\n", std::string(precision_name(options.precision)).c_str(),
               graph.nodes.size());
  const passes::OptimizeReport report = passes::optimize_for_inference(graph, options.precision);
  for (const auto& [pass, count] : report.rewrites)
    if (count > 0) std::fprintf(stderr, "  %s: %d rewrite(s)\n", pass.c_str(), count);
  std::fprintf(stderr, "building for %s, max batch %d\n", options.device.c_str(), options.max_batch_size);
  std::unique_ptr<Engine> engine = backend->build(graph, options);

  std::error_code ec;
  if (plan_path.has_parent_path()) {
    fs::create_directories(plan_path.parent_path(), ec);
    if (ec) fail("{}: cannot create directory: {}", plan_path.parent_path().string(), ec.message());
  }
  std::fprintf(stderr, "writing %s\n", plan_path.string().c_str());
  engine->save_plan(plan_path.string());
  const uintmax_t plan_bytes = fs::file_size(plan_path, ec);

  std::printf("built %s\n", plan_path.string().c_str());
  std::printf("  model       %s\n", input.c_str());
  std::printf("  device      %s\n", engine->device().c_str());
  std::printf("  precision   %s\n", std::string(precision_name(engine->precision())).c_str());
  std::printf("  max batch   %d\n", engine->max_batch_size());
  if (!engine->inputs().empty())
    std::printf("  input       %s %s %s\n", engine->inputs()[0].name.c_str(),
                std::string(dtype_name(engine->inputs()[0].dtype)).c_str(), dims_to_string(engine->inputs()[0].dims).c_str());
  std::printf("  nodes       %zu before optimization, %zu after\n", report.nodes_before, report.nodes_after);
  std::printf("  build time  %.2f s\n", seconds_since(start));
  std::printf("  plan size   %s\n", human_bytes(plan_bytes).c_str());
  return kExitOk;
}

}  // namespace kiln::cli
