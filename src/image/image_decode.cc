#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "image/image.h"

namespace kiln::image {

void check_image_size(int64_t width, int64_t height, const std::string& what) {
  if (width <= 0 || height <= 0)
    fail("{}: invalid image size {}x{}", what, width, height);
  if (width > kMaxImagePixels || height > kMaxImagePixels || width * height > kMaxImagePixels)
    fail("{}: image of {}x{} pixels exceeds the limit of {} pixels", what, width, height, kMaxImagePixels);
}

Image decode_image(const void* data, size_t size, const std::string& what) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (bytes == nullptr || size == 0) fail("{}: empty image data", what);
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) return decode_jpeg(bytes, size, what);
  if (size >= 8 && std::memcmp(bytes, kPng, 8) == 0) return decode_png(bytes, size, what);
  if (size >= 2 && bytes[0] == 'B' && bytes[1] == 'M') return decode_bmp(bytes, size, what);
  fail("{}: unknown image format (expected JPEG, PNG or BMP; first bytes {:02x} {:02x})", what, bytes[0],
       size > 1 ? bytes[1] : 0);
}

Image load_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_with(ErrorCode::kNotFound, "{}: cannot open image file", path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("{}: read error", path);
  return decode_image(bytes.data(), bytes.size(), path);
}

}  // namespace kiln::image
