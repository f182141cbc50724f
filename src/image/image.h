// Decoded images: 8-bit RGB, row-major HWC. Every decoder checks the bytes it reads, so
// a corrupt, truncated or hostile file becomes a kiln::Error naming the file, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::image {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3 bytes, rows top to bottom
};

// Larger images are refused before any pixel memory is allocated (decompression bombs).
inline constexpr int64_t kMaxImagePixels = 100'000'000;

// Detects JPEG, PNG or BMP by magic bytes and decodes to RGB. `what` names the source in
// error messages (a path, "request instance 3").
Image decode_image(const void* data, size_t size, const std::string& what);
Image load_image(const std::string& path);

// Format-specific decoders, called by decode_image after the magic bytes matched.
Image decode_jpeg(const uint8_t* data, size_t size, const std::string& what);
Image decode_png(const uint8_t* data, size_t size, const std::string& what);
Image decode_bmp(const uint8_t* data, size_t size, const std::string& what);

// Throws when width x height is not a sane image size.
void check_image_size(int64_t width, int64_t height, const std::string& what);

}  // namespace kiln::image
