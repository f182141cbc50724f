// `kiln eval MODEL --images DIR [--labels-file F] [--precision int8] [--compare fp32]`:
// classifies every image under DIR in batches and reports
//   - top-1 / top-5 accuracy when the folder is labelled (`DIR/<label>/<image>`, where
//     <label> is a line of the labels file or a class index), and
//   - with --compare, how closely this engine agrees with a reference precision on the
//     same inputs: top-1 agreement, mean top-5 overlap and the relative error of the logits,
//     which is how an INT8 engine is judged against FP32 without a labelled set.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/agreement.h"
#include "cli/classify.h"
#include "cli/parse_flags.h"
#include "cli/subcommands.h"

namespace kiln::cli {

namespace {

namespace fs = std::filesystem;

// The class of `path` from its folder name: a label of the file, or a class index.
int class_of(const fs::path& path, const std::map<std::string, int>& by_name, size_t classes) {
  const std::string folder = path.parent_path().filename().string();
  if (auto it = by_name.find(folder); it != by_name.end()) return it->second;
  if (!folder.empty() && std::all_of(folder.begin(), folder.end(), ::isdigit) && folder.size() < 9) {
    const int index = std::stoi(folder);
    if (static_cast<size_t>(index) < classes) return index;
  }
  fail("{}: folder '{}' is neither a label of the labels file nor a class index below {}", path.string(), folder,
       classes);
}

std::unique_ptr<Engine> build_for(const LoadedModel& model, BuildOptions options, const std::string& precision) {
  options.precision = parse_precision(precision);
  options.progress = [&precision](const std::string& line) { std::fprintf(stderr, "  [%s] %s\n", precision.c_str(), line.c_str()); };
  std::fprintf(stderr, "building %s on %s\n", precision.c_str(), options.device.c_str());
  return model.build(options);
}

}  // namespace

int run_eval(int argc, char** argv) {
  CLI::App app{"Top-1/top-5 accuracy on a labelled image folder, and agreement with a reference precision",
               "kiln eval"};
  std::string model, images_dir, labels_path, precision = "fp32", compare, device;
  BuildOptions options;
  options.max_batch_size = 32;
  app.add_option("model", model, "ONNX model, TensorFlow model or kiln plan")->required();
  app.add_option("--images", images_dir, "folder of images; DIR/<label>/<image> when labelled")->required();
  app.add_option("--labels-file,--labels", labels_path,
                 "class names, one per line; with it, folder names give each image's true class");
  app.add_option("--precision", precision, "native, fp32, tf32, fp16, bf16, int8 or fp8")->capture_default_str();
  app.add_option("--compare", compare, "a reference precision to compare outputs with (e.g. fp32)");
  app.add_option("--device", device, "cpu or cuda:N (default: a GPU if present)");
  app.add_option("--batch-size", options.max_batch_size, "images per batch")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--calib-data", options.calib_data_dir, "int8/fp8/best: calibration images or .npy tensors");
  app.add_option("--calib-cache", options.calib_cache_path, "int8/fp8/best: calibration cache to read or write");
  app.add_option("--calibrator", options.calibrator, "int8/fp8/best: entropy, percentile or minmax")
      ->capture_default_str()
      ->check(CLI::IsMember({"entropy", "percentile", "minmax"}));
  if (auto exit_code = parse_flags(app, argc, argv)) return *exit_code;
  parse_precision(precision);
  if (!compare.empty()) parse_precision(compare);
  options.device = device.empty() ? best_device() : device;

  // Inputs first: a typo fails before any engine is built.
  const std::vector<std::string> images = list_images(images_dir, "--images");
  const bool labelled = !labels_path.empty();
  const std::vector<std::string> labels = load_labels_or_default(labels_path);
  std::vector<int> truth;
  if (labelled) {
    std::map<std::string, int> by_name;
    for (size_t i = 0; i < labels.size(); ++i) by_name.emplace(labels[i], static_cast<int>(i));
    for (const std::string& p : images) truth.push_back(class_of(p, by_name, labels.size()));
  }
  LoadedModel loaded(model);
  bool fixed_batch = false;
  if (!loaded.inputs().empty() && !loaded.inputs()[0].dims.empty() && loaded.inputs()[0].dims[0] > 0) {
    fixed_batch = true;
    options.max_batch_size = static_cast<int>(loaded.inputs()[0].dims[0]);
  }

  const auto progress = [](const std::string& line) { std::fprintf(stderr, "  %s\n", line.c_str()); };
  const ClassifiedImages got = classify_images(*build_for(loaded, options, precision), images, loaded.preprocess(),
                                               labels, options.max_batch_size, fixed_batch, progress);
  std::printf("kiln eval  %s\n  images     %zu under %s\n  device     %s\n  precision  %s\n", model.c_str(),
              images.size(), images_dir.c_str(), options.device.c_str(), precision.c_str());
  if (labelled) {
    // Model outputs with a background class are shifted by top_predictions; compare labels by name.
    size_t top1 = 0, top5 = 0;
    for (size_t i = 0; i < images.size(); ++i) {
      const std::string& want = labels[static_cast<size_t>(truth[i])];
      const auto& p = got.top5[i];
      top1 += !p.empty() && p[0].label == want;
      top5 += std::any_of(p.begin(), p.end(), [&](const Prediction& x) { return x.label == want; });
    }
    std::printf("  top-1      %.2f%% (%zu/%zu)\n  top-5      %.2f%% (%zu/%zu)\n", 100.0 * top1 / images.size(), top1,
                images.size(), 100.0 * top5 / images.size(), top5, images.size());
  }
  if (!compare.empty()) {
    const ClassifiedImages ref = classify_images(*build_for(loaded, options, compare), images, loaded.preprocess(),
                                                 labels, options.max_batch_size, fixed_batch, progress);
    const Agreement agreement = compare_classifications(got, ref);
    std::printf("  vs %s:\n    %s\n", compare.c_str(), format_agreement(agreement).c_str());
  }
  return kExitOk;
}

}  // namespace kiln::cli
