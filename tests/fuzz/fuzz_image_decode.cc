// libFuzzer target: any byte string given to the image decoders (JPEG through libjpeg-turbo,
// PNG through libpng, BMP by hand) either decodes to a well-formed RGB image within the size
// limit or throws kiln::Error; it never crashes, reads out of bounds or allocates pixel
// memory for an image the limit refuses.
// kiln-fuzz-libs: kiln_image
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const kiln::image::Image image = kiln::image::decode_image(data, size, "fuzz image");
    const int64_t pixels = int64_t(image.width) * image.height;
    if (image.width <= 0 || image.height <= 0 || pixels > kiln::image::kMaxImagePixels) __builtin_trap();
    if (image.rgb.size() != static_cast<size_t>(pixels) * 3) __builtin_trap();
  } catch (const kiln::Error&) {
  }
  return 0;
}
