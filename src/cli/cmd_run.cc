// `kiln run MODEL --image X.jpg ...`: classify images (top-k labels with probabilities),
// or run raw tensors from .npy files and print or save the outputs.
#include <algorithm>
#include <cstring>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/classify.h"
#include "cli/parse_flags.h"
#include "cli/subcommands.h"
#include "core/npy.h"
#include "image/image.h"

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

// Outputs of consecutive batches joined along the batch dimension.
std::vector<Tensor> concat_batches(const std::vector<std::vector<Tensor>>& parts) {
  if (parts.size() == 1) return parts[0];
  std::vector<Tensor> joined;
  for (size_t i = 0; i < parts[0].size(); ++i) {
    Dims dims = parts[0][i].dims();
    KILN_CHECK(!dims.empty(), "output {} is a scalar; cannot join batches", i);
    dims[0] = 0;
    for (const auto& p : parts) dims[0] += p.at(i).dims().at(0);
    Tensor t(parts[0][i].dtype(), dims);
    size_t offset = 0;
    for (const auto& p : parts) {
      std::memcpy(static_cast<char*>(t.raw()) + offset, p[i].raw(), p[i].nbytes());
      offset += p[i].nbytes();
    }
    joined.push_back(std::move(t));
  }
  return joined;
}

}  // namespace

int run_run(int argc, char** argv) {
  CLI::App app{"Run a model on images (top-k labels) or on .npy tensors", "kiln run"};
  std::string model, labels_path, device, precision_text = "fp32", output_npy;
  std::vector<std::string> images, npy_inputs;
  int top = 5;
  bool raw = false;
  app.add_option("model", model, "ONNX model, TensorFlow graph or kiln plan")->required();
  auto* image_opt = app.add_option("--image,--image-file", images, "image file(s) (JPEG, PNG, BMP), run as one batch where the model allows");
  auto* npy_opt = app.add_option("--input-npy", npy_inputs, ".npy tensor, one per model input, in input order");
  image_opt->excludes(npy_opt);
  app.add_option("--labels", labels_path, "class names, one per line (default: data/imagenet_classes.txt)");
  app.add_option("--top", top, "how many predictions per image")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--device", device, "cpu, cuda or cuda:N (default: a GPU if present)");
  app.add_option("--precision", precision_text, "native, fp32, tf32, fp16, bf16, int8, fp8")->capture_default_str();
  app.add_option("--output-npy", output_npy, "write output 0 here (further outputs to NAME_1.npy ...)");
  app.add_flag("--raw", raw, "print the raw output tensors instead of top-k labels");
  if (auto exit_code = parse_flags(app, argc, argv)) return *exit_code;
  if (images.empty() && npy_inputs.empty()) {
    fmt::print(stderr, "kiln run: give --image FILE or --input-npy FILE\n{}", app.help());
    return kExitUsage;
  }

  LoadedModel loaded(model);
  // Inputs are read before the (possibly slow) build so a bad path fails fast.
  std::vector<image::Image> decoded;
  for (const std::string& path : images) decoded.push_back(image::load_image(path));
  std::vector<Tensor> npy_tensors;
  if (!npy_inputs.empty() && !loaded.inputs().empty()) npy_tensors = load_npy_inputs(npy_inputs, loaded.inputs());

  BuildOptions options;
  options.device = device.empty() ? best_device() : device;
  options.precision = parse_precision(precision_text);
  options.max_batch_size = std::max<int>(1, static_cast<int>(decoded.size()));
  if (!npy_tensors.empty() && npy_tensors[0].rank() > 0)
    options.max_batch_size = std::max<int>(1, static_cast<int>(npy_tensors[0].dims()[0]));
  if (!loaded.inputs().empty() && !loaded.inputs()[0].dims.empty() && loaded.inputs()[0].dims[0] > 0)
    options.max_batch_size = std::min<int>(options.max_batch_size, static_cast<int>(loaded.inputs()[0].dims[0]));
  std::unique_ptr<Engine> engine = loaded.build(options);
  std::unique_ptr<ExecutionContext> context = engine->create_context();

  std::vector<Tensor> outputs;
  if (!decoded.empty()) {
    // Models with a fixed batch (often 1) see the images a batch at a time.
    const Dims& input_dims = engine->inputs().at(0).dims;
    const size_t chunk = !input_dims.empty() && input_dims[0] > 0 ? static_cast<size_t>(input_dims[0])
                                                                   : static_cast<size_t>(engine->max_batch_size());
    std::vector<std::vector<Tensor>> parts;
    for (size_t first = 0; first < decoded.size(); first += chunk) {
      const size_t last = std::min(decoded.size(), first + chunk);
      const std::vector<image::Image> slice(decoded.begin() + first, decoded.begin() + last);
      const bool pixels = engine->inputs().at(0).dtype == DType::kU8;  // built with --image-input
      parts.push_back(run_or_throw(*context, {pixels ? image::pixel_batch(slice, loaded.preprocess())
                                                     : image::preprocess_batch(slice, loaded.preprocess())}));
    }
    outputs = concat_batches(parts);
  } else {
    if (npy_tensors.empty()) npy_tensors = load_npy_inputs(npy_inputs, engine->inputs());  // plans: known now
    outputs = run_or_throw(*context, npy_tensors);
  }

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
