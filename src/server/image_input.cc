#include "server/image_input.h"

#include <cmath>

#include "image/image.h"

namespace kiln::server {

ImageInputSpec image_input_spec(const std::vector<TensorInfo>& inputs,
                                const std::vector<std::pair<std::string, std::string>>& metadata,
                                std::optional<bool> forced) {
  ImageInputSpec spec;
  if (forced.has_value() && !*forced) return spec;
  const auto reject = [&](const std::string& why) {
    if (forced.value_or(false))
      fail("config.json says image_input, but {}", why);
    return spec;
  };
  if (inputs.size() != 1) return reject(fmt::format("the model has {} inputs (image models have one)", inputs.size()));
  const TensorInfo& in = inputs[0];
  if (in.dtype != DType::kF32 && in.dtype != DType::kU8)
    return reject(fmt::format("input \"{}\" is {}, not f32 or uint8", in.name, dtype_name(in.dtype)));
  if (in.dims.size() != 4) return reject(fmt::format("input \"{}\" is not 4-D", in.name));
  spec.pixels = in.dtype == DType::kU8;
  // Pixel engines take RGB bytes as decoded, channels last.
  const bool nchw = !spec.pixels && in.dims[1] == 3, nhwc = in.dims[3] == 3;
  if (!nchw && !nhwc)
    return reject(fmt::format("input \"{}\" {} has no 3-channel axis{}", in.name, dims_to_string(in.dims),
                              spec.pixels ? " (uint8 image inputs are [N,H,W,3])" : ""));
  spec.height = nchw ? in.dims[2] : in.dims[1];
  spec.width = nchw ? in.dims[3] : in.dims[2];
  if (spec.height <= 0 || spec.width <= 0 || spec.height != spec.width)
    return reject(fmt::format("input \"{}\" {} is not a square image of static size", in.name, dims_to_string(in.dims)));

  bool has_metadata = false;
  for (const auto& kv : metadata) has_metadata = has_metadata || kv.first == image::kPreprocessMetadataKey;
  spec.preprocess = image::preprocess_from_metadata(metadata);
  if (!has_metadata && spec.height != spec.preprocess.crop) {
    // Keep torchvision's 256/224 ratio of resize to crop for other input sizes.
    spec.preprocess.resize_shorter = static_cast<int>(std::lround(spec.height * 256.0 / 224.0));
  }
  spec.preprocess.crop = static_cast<int>(spec.height);
  spec.preprocess.nhwc = !nchw;
  spec.enabled = true;
  return spec;
}

namespace {

Status preprocess_checked(const ImageInputSpec& spec, const image::Image& img, const std::string& what, void* dst) {
  const auto [h, w] = image::preprocessed_size(img.width, img.height, spec.preprocess);
  if (h != spec.height || w != spec.width)
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{}: a {}x{} image preprocesses to {}x{}, the model needs {}x{} (the image is too small "
                              "for the model's crop)",
                              what, img.width, img.height, w, h, spec.width, spec.height));
  if (spec.pixels) image::pixels_into(img, spec.preprocess, static_cast<uint8_t*>(dst));
  else image::preprocess_into(img, spec.preprocess, static_cast<float*>(dst));
  return Status();
}

}  // namespace

Status encoded_image_to_row(const ImageInputSpec& spec, std::string_view bytes, const std::string& what, void* dst) {
  try {
    image::Image img = image::decode_image(bytes.data(), bytes.size(), what);
    return preprocess_checked(spec, img, what, dst);
  } catch (const Error& e) {
    return Status(ErrorCode::kInvalidArgument, e.what());
  } catch (const std::exception& e) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("{}: cannot decode the image: {}", what, e.what()));
  }
}

Status pixel_tensor_to_row(const ImageInputSpec& spec, const Tensor& pixels, const std::string& what, void* dst) {
  if (pixels.rank() != 3 || pixels.dim(2) != 3 || pixels.dim(0) < 1 || pixels.dim(1) < 1)
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{}: expected the model's input shape or an HxWx3 image, got {}", what,
                              dims_to_string(pixels.dims())));
  try {
    image::check_image_size(pixels.dim(1), pixels.dim(0), what);
    image::Image img;
    img.height = static_cast<int>(pixels.dim(0));
    img.width = static_cast<int>(pixels.dim(1));
    img.rgb.resize(static_cast<size_t>(pixels.numel()));
    const std::vector<double> values = pixels.to_doubles();
    for (size_t i = 0; i < values.size(); ++i) {
      const double v = values[i];
      if (!(v >= 0 && v <= 255))
        return Status(ErrorCode::kInvalidArgument,
                      fmt::format("{}: pixel values must be 0..255, found {}", what, v));
      img.rgb[i] = static_cast<uint8_t>(std::lround(v));
    }
    return preprocess_checked(spec, img, what, dst);
  } catch (const Error& e) {
    return Status(ErrorCode::kInvalidArgument, e.what());
  }
}

}  // namespace kiln::server
