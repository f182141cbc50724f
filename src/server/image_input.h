// Server-side image preprocessing for image models: encoded JPEG/PNG/BMP bytes (TF Serving
// {"b64": ...}, KServe BYTES) or an H x W x 3 list of 0-255 pixel values become one row of
// the model's input, with the model's own preprocessing (its "kiln.preprocess" metadata,
// or the ImageNet defaults). Two kinds of image model:
//   float  — an f32 input [N,3,S,S] or [N,S,S,3]: rows are resized, cropped and normalized.
//   pixels — a uint8 input [N,S,S,3] (plans built with `kiln build --image-input`): rows are
//            resized and cropped RGB bytes; the engine normalizes on the device, so the
//            host does less work and requests and batches are 4x smaller.
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
  bool pixels = false;  // uint8 [N,S,S,3] input: rows are not normalized here
  image::Preprocess preprocess;
  int64_t height = 0, width = 0;  // the model's input size
  int64_t row_elements() const { return 3 * height * width; }
  DType row_dtype() const { return pixels ? DType::kU8 : DType::kF32; }
  size_t row_bytes() const { return static_cast<size_t>(row_elements()) * dtype_size(row_dtype()); }
};

// Decides whether `inputs` describe an image model and how to preprocess for it.
// `forced`: config.json's image_input (unset = detect: one f32 input, NCHW or NHWC with 3
// channels and a square static size, or one uint8 NHWC input of that kind).
ImageInputSpec image_input_spec(const std::vector<TensorInfo>& inputs,
                                const std::vector<std::pair<std::string, std::string>>& metadata,
                                std::optional<bool> forced);

// Decodes and preprocesses one encoded image into dst (row_bytes(): floats, or bytes for
// a pixel model).
Status encoded_image_to_row(const ImageInputSpec& spec, std::string_view bytes, const std::string& what, void* dst);
// Preprocesses an [H, W, 3] tensor of 0-255 values (any numeric dtype) into dst.
Status pixel_tensor_to_row(const ImageInputSpec& spec, const Tensor& pixels, const std::string& what, void* dst);

}  // namespace kiln::server
