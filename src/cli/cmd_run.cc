// `kiln run MODEL --image X.jpg ...`: classify images (top-k labels with probabilities),
// or run raw tensors from .npy files and print or save the outputs.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/classify.h"
#include "cli/parse_flags.h"
#include "cli/subcommands.h"
#include "core/npy.h"

namespace kiln::cli {

namespace {

// "out.npy" for output 0, "out_1.npy", "out_2.npy" ... for the others.
std::string output_path(const std::string& base, size_t index) {
  if (index == 0) return base;
  const size_t dot = base.rfind(".npy");
  const std::string stem = dot == std::string::npos ? base : base.substr(0, dot);
  return fmt::format("{}_{}.npy", stem, index);
}

void print_raw(const std::vector<TensorInfo>& infos, const std::vector<Tensor>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string name = i < infos.size() ? infos[i].name : fmt::format("output{}", i);
    fmt::print("{} {}\n", name, outputs[i].describe());
    const std::vector<double> values = outputs[i].to_doubles();
    for (size_t k = 0; k < values.size(); ++k) fmt::print("{}{:.8g}", k % 8 ? " " : (k ? "\n  " : "  "), values[k]);
    fmt::print("\n");
  }
}

// The .npy tensors as the engine's inputs: count checked here, and a float tensor of
// another float type is converted (np.random gives float64 by default).
std::vector<Tensor> load_npy_inputs(const std::vector<std::string>& paths, const std::vector<TensorInfo>& infos) {
  if (paths.size() != infos.size())
    fail("the model takes {} input(s), but {} --input-npy file(s) were given", infos.size(), paths.size());
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < paths.size(); ++i) {
    Tensor t = read_npy_file(paths[i]);
    if (t.dtype() != infos[i].dtype && is_float(t.dtype()) && is_float(infos[i].dtype)) t = t.cast(infos[i].dtype);
    if (t.dtype() != infos[i].dtype || t.rank() != static_cast<int64_t>(infos[i].dims.size()))
      fail("{}: input '{}' expects {}{}, the file holds {}", paths[i], infos[i].name, dtype_name(infos[i].dtype),
           dims_to_string(infos[i].dims), t.describe());
    for (size_t d = 0; d < infos[i].dims.size(); ++d)
      if (infos[i].dims[d] >= 0 && infos[i].dims[d] != t.dims()[d])
        fail("{}: input '{}' expects {}{}, the file holds {} (dimension {} differs)", paths[i], infos[i].name,
             dtype_name(infos[i].dtype), dims_to_string(infos[i].dims), t.describe(), d);
    inputs.push_back(std::move(t));
  }
  return inputs;
}

}  // namespace

int run_run(int argc, char** argv) {
  CLI::App app{"Run a model on images (top-k labels) or on .npy tensors", "kiln run"};
  std::string model, labels_path, device, precision_text = "fp32", output_npy;
  std::vector<std::string> images, npy_inputs;
  int top = 5;
  bool raw = false;
  app.add_option("model", model, "ONNX model, TensorFlow graph or kiln plan")->required();
  auto* image_opt = app.add_option("--image,--image-file", images, "image file(s) (JPEG, PNG, BMP); one batch");
  auto* npy_opt = app.add_option("--input-npy", npy_inputs, ".npy tensor, one per model input, in input order");
  image_opt->excludes(npy_opt);
  app.add_option("--labels", labels_path, "class names, one per line (default: data/imagenet_classes.txt)");
  app.add_option("--top", top, "how many predictions per image")->check(CLI::Range(1, 1000));
  app.add_option("--device", device, "cpu, cuda or cuda:N (default: a GPU if present)");
  app.add_option("--precision", precision_text, "native, fp32, tf32, fp16, bf16, int8, fp8");
  app.add_option("--output-npy", output_npy, "write output 0 here (further outputs to NAME_1.npy ...)");
  app.add_flag("--raw", raw, "print the raw output tensors instead of top-k labels");
  if (auto exit_code = parse_flags(app, argc, argv)) return *exit_code;
  if (images.empty() && npy_inputs.empty()) {
    fmt::print(stderr, "kiln run: give --image FILE or --input-npy FILE\n{}", app.help());
    return kExitUsage;
  }

  LoadedModel loaded(model);
  // Images are read before the (possibly slow) build so a bad path fails fast.
  std::vector<Tensor> inputs;
  if (!images.empty()) {
    inputs.push_back(load_image_batch(images, loaded.preprocess()));
  } else if (!loaded.inputs().empty()) {
    inputs = load_npy_inputs(npy_inputs, loaded.inputs());
  }

  BuildOptions options;
  options.device = device.empty() ? best_device() : device;
  options.precision = parse_precision(precision_text);
  options.max_batch_size = 1;
  if (!inputs.empty() && inputs[0].rank() > 0) options.max_batch_size = static_cast<int>(inputs[0].dims()[0]);
  std::unique_ptr<Engine> engine = loaded.build(options);
  if (inputs.empty()) inputs = load_npy_inputs(npy_inputs, engine->inputs());  // plans: inputs known now
  std::unique_ptr<ExecutionContext> context = engine->create_context();
  const std::vector<Tensor> outputs = run_or_throw(*context, inputs);

  if (!output_npy.empty())
    for (size_t i = 0; i < outputs.size(); ++i) write_npy_file(output_path(output_npy, i), outputs[i]);
  if (raw) {
    print_raw(engine->outputs(), outputs);
    return kExitOk;
  }
  if (!output_npy.empty() && images.empty()) return kExitOk;
  KILN_CHECK(!outputs.empty(), "{}: the model produced no outputs", model);
  const std::vector<std::string> labels = load_labels_or_default(labels_path);
  const auto rows = top_predictions(outputs[0], labels, top);
  for (size_t r = 0; r < rows.size(); ++r) {
    fmt::print("{}\n", r < images.size() ? images[r] : fmt::format("batch item {}", r));
    for (size_t i = 0; i < rows[r].size(); ++i)
      fmt::print("  {}. {:.4f}  class {:<4}  {}\n", i + 1, rows[r][i].prob, rows[r][i].class_index, rows[r][i].label);
  }
  return kExitOk;
}

}  // namespace kiln::cli
