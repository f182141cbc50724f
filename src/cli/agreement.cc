#include "cli/agreement.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

namespace kiln::cli {

namespace fs = std::filesystem;

namespace {

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

}  // namespace

std::vector<std::string> list_images(const std::string& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("{} '{}' is not a folder", what, dir);
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file() && is_image_file(e.path())) out.push_back(e.path().string());
  if (ec) fail("{}: {}", dir, ec.message());
  if (out.empty()) fail("{}: no images (.jpg .jpeg .png .bmp) under '{}'", what, dir);
  std::sort(out.begin(), out.end());
  return out;
}

ClassifiedImages classify_images(Engine& engine, const std::vector<std::string>& images, const image::Preprocess& pre,
                                 const std::vector<std::string>& labels, int batch_size, bool fixed_batch,
                                 const std::function<void(const std::string&)>& progress) {
  ClassifiedImages out;
  auto context = engine.create_context();
  for (size_t start = 0; start < images.size(); start += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(images.size(), start + static_cast<size_t>(batch_size));
    std::vector<std::string> paths(images.begin() + start, images.begin() + end);
    const size_t real = paths.size();
    if (fixed_batch) paths.resize(static_cast<size_t>(batch_size), paths.back());
    const std::vector<Tensor> outputs = run_or_throw(*context, {load_image_batch_for(engine, paths, pre)});
    KILN_CHECK(!outputs.empty(), "the model produced no outputs");
    const Tensor scores = outputs[0].dtype() == DType::kF32 ? outputs[0] : outputs[0].cast(DType::kF32);
    auto top = top_predictions(scores, labels, 5);
    const size_t per = static_cast<size_t>(scores.numel()) / paths.size();
    for (size_t i = 0; i < real; ++i) {
      out.top5.push_back(std::move(top.at(i)));
      out.logits.emplace_back(scores.data<float>() + i * per, scores.data<float>() + (i + 1) * per);
    }
    if (progress) progress(fmt::format("{}/{} images", end, images.size()));
  }
  return out;
}

Agreement compare_classifications(const ClassifiedImages& got, const ClassifiedImages& ref) {
  KILN_CHECK(got.top5.size() == ref.top5.size(), "comparing {} images with {}", got.top5.size(), ref.top5.size());
  Agreement a;
  a.images = got.top5.size();
  double overlap = 0, rel_sum = 0;
  for (size_t i = 0; i < a.images; ++i) {
    const auto& g = got.top5[i];
    const auto& r = ref.top5[i];
    a.top1_agree += !g.empty() && !r.empty() && g[0].class_index == r[0].class_index;
    size_t common = 0;
    for (const auto& x : g)
      common += std::any_of(r.begin(), r.end(), [&](const Prediction& y) { return y.class_index == x.class_index; });
    overlap += r.empty() ? 0.0 : static_cast<double>(common) / r.size();
    double num = 0, den = 0;
    const size_t n = std::min(got.logits[i].size(), ref.logits[i].size());
    for (size_t j = 0; j < n; ++j) {
      const double d = got.logits[i][j] - ref.logits[i][j];
      num += d * d;
      den += double(ref.logits[i][j]) * ref.logits[i][j];
    }
    const double rel = std::sqrt(num / std::max(den, 1e-30));
    rel_sum += rel;
    a.logits_rel_max = std::max(a.logits_rel_max, rel);
  }
  if (a.images > 0) {
    a.top5_overlap = overlap / static_cast<double>(a.images);
    a.logits_rel_mean = rel_sum / static_cast<double>(a.images);
  }
  return a;
}

std::string format_agreement(const Agreement& a) {
  const double n = static_cast<double>(std::max<size_t>(a.images, 1));
  return fmt::format("top-1 agreement {:.2f}% ({}/{}), top-5 overlap {:.2f}%, logits rel. error mean {:.4f}, max {:.4f}",
                     100.0 * static_cast<double>(a.top1_agree) / n, a.top1_agree, a.images, 100.0 * a.top5_overlap,
                     a.logits_rel_mean, a.logits_rel_max);
}

nlohmann::json agreement_to_json(const Agreement& a) {
  return {{"images", a.images},
          {"top1_agree", a.top1_agree},
          {"top1_agreement", a.images ? static_cast<double>(a.top1_agree) / static_cast<double>(a.images) : 0.0},
          {"top5_overlap", a.top5_overlap},
          {"logits_rel_l2_mean", a.logits_rel_mean},
          {"logits_rel_l2_max", a.logits_rel_max}};
}

}  // namespace kiln::cli
