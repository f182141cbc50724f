// Server-side image preprocessing for image models: encoded JPEG/PNG/BMP bytes (TF Serving
// {"b64": ...}, KServe BYTES) or an H x W x 3 list of 0-255 pixel values become one row of
// the model's float input, with the model's own preprocessing (its "kiln.preprocess"
// metadata, or the ImageNet defaults).
#pragma once

#include <string>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "engine/engine.h"
#include "image/preprocess.h"

namespace kiln::server {

struct ImageInputSpec {
  bool enabled = false;
  image::Preprocess preprocess;
  int64_t height = 0, width = 0;  // the model's input size
  int64_t row_elements() const { return 3 * height * width; }
};

// Decides whether `inputs` describe an image model and how to preprocess for it.
// `forced`: config.json's image_input (unset = detect: one float input, NCHW or NHWC
// with 3 channels and a square static size).
ImageInputSpec image_input_spec(const std::vector<TensorInfo>& inputs,
                                const std::vector<std::pair<std::string, std::string>>& metadata,
                                std::optional<bool> forced);

// Decodes and preprocesses one encoded image into dst (row_elements floats).
Status encoded_image_to_row(const ImageInputSpec& spec, std::string_view bytes, const std::string& what, float* dst);
// Preprocesses an [H, W, 3] tensor of 0-255 values (any numeric dtype) into dst.
Status pixel_tensor_to_row(const ImageInputSpec& spec, const Tensor& pixels, const std::string& what, float* dst);

}  // namespace kiln::server
