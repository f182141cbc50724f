#include "image/preprocess.h"

#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "image/resize.h"

namespace kiln::image {
namespace {

void validate(const Preprocess& p, const std::string& what) {
  if (p.resize_shorter < 0 || p.resize_shorter > 65536)
    fail("{}: resize_shorter must be in [0, 65536], got {}", what, p.resize_shorter);
  if (p.crop < 0 || p.crop > 65536) fail("{}: crop must be in [0, 65536], got {}", what, p.crop);
  if (!std::isfinite(p.scale) || p.scale == 0) fail("{}: scale must be finite and non-zero", what);
  for (int c = 0; c < 3; ++c) {
    if (!std::isfinite(p.mean[c])) fail("{}: mean[{}] is not finite", what, c);
    if (!std::isfinite(p.std[c]) || p.std[c] == 0) fail("{}: std[{}] must be finite and non-zero", what, c);
  }
}

// Applies resize and crop; returns the image unchanged when neither applies.
Image resize_and_crop(const Image& image, const Preprocess& p) {
  Image current = image;
  if (p.resize_shorter > 0) {
    int w = 0, h = 0;
    size_for_shorter_side(image.width, image.height, p.resize_shorter, &w, &h);
    current = resize_bilinear(image, w, h, p.antialias);
  }
  if (p.crop > 0) current = center_crop(current, p.crop, p.crop);
  return current;
}

}  // namespace

Preprocess preprocess_from_json(const std::string& text) {
  const std::string what = std::string("model metadata \"") + kPreprocessMetadataKey + "\"";
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) fail("{}: not a JSON object: {}", what, text.substr(0, 200));
  Preprocess p;
  try {
    if (j.contains("resize_shorter")) p.resize_shorter = j.at("resize_shorter").get<int>();
    if (j.contains("crop")) p.crop = j.at("crop").get<int>();
    if (j.contains("antialias")) p.antialias = j.at("antialias").get<bool>();
    if (j.contains("scale")) p.scale = j.at("scale").get<float>();
    if (j.contains("mean")) p.mean = j.at("mean").get<std::array<float, 3>>();
    if (j.contains("std")) p.std = j.at("std").get<std::array<float, 3>>();
    if (j.contains("channel_order")) {
      const auto order = j.at("channel_order").get<std::string>();
      if (order != "RGB" && order != "BGR") fail("{}: channel_order must be \"RGB\" or \"BGR\", got \"{}\"", what, order);
      p.bgr = order == "BGR";
    }
    if (j.contains("layout")) {
      const auto layout = j.at("layout").get<std::string>();
      if (layout != "NCHW" && layout != "NHWC") fail("{}: layout must be \"NCHW\" or \"NHWC\", got \"{}\"", what, layout);
      p.nhwc = layout == "NHWC";
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: {}", what, e.what());
  }
  validate(p, what);
  return p;
}

Preprocess preprocess_from_metadata(const std::vector<std::pair<std::string, std::string>>& metadata) {
  for (const auto& [key, value] : metadata)
    if (key == kPreprocessMetadataKey) return preprocess_from_json(value);
  return Preprocess{};
}

std::string preprocess_to_json(const Preprocess& p) {
  nlohmann::json j = {
      {"resize_shorter", p.resize_shorter},
      {"crop", p.crop},
      {"interpolation", "bilinear"},
      {"antialias", p.antialias},
      {"channel_order", p.bgr ? "BGR" : "RGB"},
      {"scale", p.scale},
      {"mean", p.mean},
      {"std", p.std},
      {"layout", p.nhwc ? "NHWC" : "NCHW"},
  };
  return j.dump();
}

std::pair<int, int> preprocessed_size(int width, int height, const Preprocess& p) {
  if (p.crop > 0) return {p.crop, p.crop};
  if (p.resize_shorter > 0) {
    int w = 0, h = 0;
    size_for_shorter_side(width, height, p.resize_shorter, &w, &h);
    return {h, w};
  }
  return {height, width};
}

void preprocess_into(const Image& image, const Preprocess& p, float* dst) {
  validate(p, "preprocess");
  const Image ready = resize_and_crop(image, p);
  const size_t plane = static_cast<size_t>(ready.width) * ready.height;
  // Folding scale, mean and std into one multiply-add per value.
  float mul[3], add[3];
  for (int c = 0; c < 3; ++c) {
    mul[c] = p.scale / p.std[c];
    add[c] = -p.mean[c] / p.std[c];
  }
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) {
      const int src_channel = p.bgr ? 2 - c : c;
      const float v = ready.rgb[i * 3 + src_channel] * mul[c] + add[c];
      if (p.nhwc)
        dst[i * 3 + c] = v;
      else
        dst[c * plane + i] = v;
    }
  }
}

namespace {

// The common output size of a batch; throws naming the first image that differs.
std::pair<int, int> batch_size_of(const std::vector<Image>& images, const Preprocess& p) {
  KILN_CHECK(!images.empty(), "preprocess: empty batch");
  const auto [h, w] = preprocessed_size(images[0].width, images[0].height, p);
  for (size_t i = 1; i < images.size(); ++i) {
    const auto size_i = preprocessed_size(images[i].width, images[i].height, p);
    KILN_CHECK(size_i == std::make_pair(h, w),
               "preprocess: image {} becomes {}x{} but image 0 becomes {}x{}; set a crop size to batch them", i,
               size_i.second, size_i.first, w, h);
  }
  return {h, w};
}

}  // namespace

Tensor pixel_batch(const std::vector<Image>& images, const Preprocess& p) {
  validate(p, "preprocess");
  const auto [h, w] = batch_size_of(images, p);
  const int64_t n = static_cast<int64_t>(images.size());
  Tensor batch(DType::kU8, Dims{n, h, w, 3});
  const size_t per_image = static_cast<size_t>(h) * w * 3;
  for (size_t i = 0; i < images.size(); ++i) pixels_into(images[i], p, batch.data<uint8_t>() + i * per_image);
  return batch;
}

void pixels_into(const Image& image, const Preprocess& p, uint8_t* dst) {
  validate(p, "preprocess");
  const Image ready = resize_and_crop(image, p);
  std::memcpy(dst, ready.rgb.data(), ready.rgb.size());
}

Tensor preprocess_batch(const std::vector<Image>& images, const Preprocess& p) {
  const auto [h, w] = batch_size_of(images, p);
  const int64_t n = static_cast<int64_t>(images.size());
  Tensor batch(DType::kF32, p.nhwc ? Dims{n, h, w, 3} : Dims{n, 3, h, w});
  float* out = batch.data<float>();
  const size_t per_image = static_cast<size_t>(h) * w * 3;
  for (size_t i = 0; i < images.size(); ++i) preprocess_into(images[i], p, out + i * per_image);
  return batch;
}

}  // namespace kiln::image
