// JPEG through libjpeg-turbo's TurboJPEG API. Default (accurate integer) DCT and fancy
// upsampling, the same choices PIL makes, so decoded pixels match what the models'
// reference pipelines (torchvision on PIL) saw.
#include <turbojpeg.h>

#include <memory>

#include "core/error.h"
#include "image/image.h"

namespace kiln::image {

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& what) {
  std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  if (!handle) fail_with(ErrorCode::kInternal, "{}: cannot create a JPEG decoder", what);
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle.get(), data, static_cast<unsigned long>(size), &width, &height, &subsampling,
                          &colorspace) != 0)
    fail("{}: corrupt JPEG header: {}", what, tjGetErrorStr2(handle.get()));
  check_image_size(width, height, what);
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(static_cast<size_t>(width) * height * 3);
  // TJFLAG_STOPONWARNING: a truncated file is an error, not a grey bottom half.
  if (tjDecompress2(handle.get(), data, static_cast<unsigned long>(size), image.rgb.data(), width, width * 3, height,
                    TJPF_RGB, TJFLAG_STOPONWARNING) != 0)
    fail("{}: corrupt or truncated JPEG: {}", what, tjGetErrorStr2(handle.get()));
  return image;
}

}  // namespace kiln::image
