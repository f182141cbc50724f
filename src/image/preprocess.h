// Turning decoded images into a model's input tensor. A model states how it wants its
// pixels in its metadata (key "kiln.preprocess", JSON); the defaults are torchvision's
// ImageNet evaluation transform: Resize(256) bilinear, CenterCrop(224), RGB, /255,
// ImageNet mean and std, NCHW.
//
// JSON fields (all optional): resize_shorter (int, 0 = no resize), crop (int, 0 = no
// crop), antialias (bool), channel_order ("RGB" | "BGR"), scale (float), mean, std
// (3 floats each, in the model's channel order), layout ("NCHW" | "NHWC").
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "image/image.h"

namespace kiln::image {

inline constexpr const char* kPreprocessMetadataKey = "kiln.preprocess";

struct Preprocess {
  int resize_shorter = 256;
  int crop = 224;
  bool antialias = true;
  std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};
  std::array<float, 3> std = {0.229f, 0.224f, 0.225f};
  float scale = 1 / 255.f;
  bool bgr = false;
  bool nhwc = false;
};

// Reads "kiln.preprocess" from model metadata; defaults when the key is absent. Throws
// kiln::Error naming the field on malformed JSON or invalid values.
Preprocess preprocess_from_metadata(const std::vector<std::pair<std::string, std::string>>& metadata);
Preprocess preprocess_from_json(const std::string& json);
std::string preprocess_to_json(const Preprocess& p);

// Size of one preprocessed image (height, width) for an input image of this size.
std::pair<int, int> preprocessed_size(int width, int height, const Preprocess& p);

// Resizes, crops and normalizes one image into dst (3 * H * W floats, CHW or HWC).
void preprocess_into(const Image& image, const Preprocess& p, float* dst);

// A batch [N,3,H,W] (or [N,H,W,3]) of f32; all images must preprocess to one size.
Tensor preprocess_batch(const std::vector<Image>& images, const Preprocess& p);

// Resized and cropped but not normalized: uint8 [N,H,W,3] RGB, the input of engines that
// normalize on the device (BuildOptions::image_input); p's mean, std, scale, bgr and
// layout are the engine's business and are not applied here.
Tensor pixel_batch(const std::vector<Image>& images, const Preprocess& p);
// One row of pixel_batch: the resized and cropped image's RGB bytes (3 * H * W, HWC).
void pixels_into(const Image& image, const Preprocess& p, uint8_t* dst);

}  // namespace kiln::image
