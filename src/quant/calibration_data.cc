#include "quant/calibration_data.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/npy.h"
#include "image/image.h"

namespace kiln::quant {

namespace {

namespace fs = std::filesystem;

constexpr int kCalibrationBatchSize = 8;

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

// One sample ([C,H,W]-like, without the batch dim) per file, or whole batches.
class FolderSource {
 public:
  FolderSource(const ir::Graph& graph, const std::string& dir, int batch_size, int max_batches,
               const image::Preprocess& preprocess)
      : files_(list_calibration_files(dir)), batch_size_(batch_size), max_batches_(max_batches), pre_(preprocess) {
    if (graph.inputs.size() != 1)
      fail("calibration from a folder needs a model with one input; this one has {}", graph.inputs.size());
    input_ = graph.value(graph.inputs[0]);
    if (input_.dims.empty()) fail("input '{}' has no batch dimension to calibrate over", input_.name);
    if (batch_size_ < 1) fail("calibration batch size must be positive, got {}", batch_size_);
  }

  bool next(std::vector<Tensor>& inputs) {
    if (max_batches_ > 0 && produced_ >= max_batches_) return false;
    if (pos_ >= files_.paths.size()) return false;
    std::vector<Tensor> samples;
    while (pos_ < files_.paths.size() && static_cast<int>(samples.size()) < batch_size_) {
      const std::string& path = files_.paths[pos_++];
      Tensor t = load(path);
      if (t.rank() == static_cast<int64_t>(input_.dims.size())) {
        if (!samples.empty()) { --pos_; break; }  // a whole batch: emit what is gathered first
        check_sample_dims(t, 1, path);
        inputs = {std::move(t)};
        ++produced_;
        return true;
      }
      check_sample_dims(t, 0, path);
      samples.push_back(std::move(t));
    }
    inputs = {stack(samples)};
    ++produced_;
    return true;
  }

 private:
  Tensor load(const std::string& path) {
    if (files_.npy) {
      Tensor t = read_npy_file(path);
      if (t.dtype() != DType::kF32) t = t.cast(DType::kF32);
      return t;
    }
    return image::preprocess_batch({image::load_image(path)}, pre_).reshaped(sample_dims_of_image());
  }

  Dims sample_dims_of_image() const {
    Dims d(input_.dims.begin() + 1, input_.dims.end());
    for (int64_t x : d)
      if (x < 0) fail("input '{}' has dynamic dims {}; calibrate with .npy tensors", input_.name, dims_to_string(input_.dims));
    return d;
  }

  // Every dim but the batch must match the model's input (dynamic dims match anything).
  void check_sample_dims(const Tensor& t, size_t skip, const std::string& path) const {
    const Dims& want = input_.dims;
    bool ok = t.rank() + 1 - static_cast<int64_t>(skip) == static_cast<int64_t>(want.size());
    for (size_t i = 1; ok && i < want.size(); ++i)
      ok = want[i] < 0 || t.dims()[i - 1 + skip] == want[i];
    if (!ok)
      fail("{}: tensor of shape {} does not fit input '{}' of shape {}", path, dims_to_string(t.dims()), input_.name,
           dims_to_string(want));
  }

  static Tensor stack(const std::vector<Tensor>& samples) {
    Dims dims = samples[0].dims();
    dims.insert(dims.begin(), static_cast<int64_t>(samples.size()));
    Tensor out(DType::kF32, dims);
    auto* dst = static_cast<char*>(out.raw());
    for (const Tensor& s : samples) {
      if (s.dims() != samples[0].dims()) fail("calibration samples differ in shape: {} and {}",
                                              dims_to_string(samples[0].dims()), dims_to_string(s.dims()));
      std::memcpy(dst, s.raw(), s.nbytes());
      dst += s.nbytes();
    }
    return out;
  }

  CalibrationFiles files_;
  int batch_size_, max_batches_;
  image::Preprocess pre_;
  ir::Value input_;
  size_t pos_ = 0;
  int produced_ = 0;
};

}  // namespace

CalibrationFiles list_calibration_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("calibration data folder '{}' does not exist or is not a folder", dir);
  CalibrationFiles out;
  size_t images = 0, npys = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    const fs::path& p = entry.path();
    if (p.extension() == ".npy") ++npys;
    else if (is_image_name(p)) ++images;
    else continue;
    out.paths.push_back(p.string());
  }
  if (ec) fail("calibration data folder '{}': {}", dir, ec.message());
  if (images && npys) fail("calibration data folder '{}' mixes images and .npy files; use one kind", dir);
  if (out.paths.empty())
    fail("calibration data folder '{}' holds no images (.jpg .jpeg .png .bmp) and no .npy tensors", dir);
  std::sort(out.paths.begin(), out.paths.end());
  out.npy = npys > 0;
  return out;
}

BatchSource folder_batch_source(const ir::Graph& graph, const std::string& dir, int batch_size, int max_batches,
                                const image::Preprocess& preprocess) {
  auto source = std::make_shared<FolderSource>(graph, dir, batch_size, max_batches, preprocess);
  return [source](std::vector<Tensor>& inputs) { return source->next(inputs); };
}

bool has_qdq_nodes(const ir::Graph& graph) {
  for (const ir::Node& n : graph.nodes)
    if (n.op == "QuantizeLinear" || n.op == "DequantizeLinear") return true;
  return false;
}

CalibrationTable calibration_for_build(const ir::Graph& graph, const std::string& data_dir, int batches,
                                       const std::string& calibrator, const std::string& cache_path,
                                       const std::function<void(const std::string&)>& progress) {
  std::error_code ec;
  const bool cache_exists = !cache_path.empty() && fs::exists(cache_path, ec);
  if (cache_exists) {
    CalibrationTable table = load_calibration_cache(cache_path, graph);  // rejects another graph's cache
    if (progress) progress(fmt::format("calibration cache {} matches the graph: {} scales, calibrator {}", cache_path,
                                       table.thresholds.size(), table.calibrator));
    return table;
  }
  if (data_dir.empty())
    fail_with(ErrorCode::kInvalidArgument,
              "INT8 needs activation ranges: pass --calib-data DIR (a folder of sample images or .npy input tensors, "
              "a few hundred representative inputs) or --calib-cache FILE from an earlier calibration, or use a "
              "model with QuantizeLinear/DequantizeLinear nodes");
  const CalibratorKind kind = parse_calibrator(calibrator);
  const image::Preprocess pre = image::preprocess_from_metadata(graph.metadata);
  if (progress) progress(fmt::format("calibrating with {} over {} ({} batch(es) of {})", calibrator_name(kind), data_dir,
                                     batches > 0 ? std::to_string(batches) : "all", kCalibrationBatchSize));
  CalibrationTable table =
      calibrate(graph, folder_batch_source(graph, data_dir, kCalibrationBatchSize, batches, pre), kind, progress);
  if (!cache_path.empty()) {
    save_calibration_cache(table, cache_path);
    if (progress) progress(fmt::format("calibration cache written to {}", cache_path));
  }
  return table;
}

}  // namespace kiln::quant
