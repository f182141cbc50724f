// Uncompressed Windows BMP: 24-bit BGR and 32-bit (BI_RGB as BGRX, or BI_BITFIELDS with
// 8-bit channel masks), bottom-up or top-down. Every offset is checked against the file
// size before it is read.
#include <bit>
#include <cstdlib>

#include "core/error.h"
#include "image/image.h"

namespace kiln::image {
namespace {

constexpr uint32_t kBiRgb = 0;
constexpr uint32_t kBiBitfields = 3;

uint32_t read_u32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24); }
uint16_t read_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// Shift that brings an 8-bit-wide channel mask down to bits 0..7.
int mask_shift(uint32_t mask, const std::string& what) {
  if (mask == 0 || std::popcount(mask) != 8 || (mask >> std::countr_zero(mask)) != 0xffu)
    fail("{}: unsupported BMP channel mask 0x{:08x} (only 8-bit channels)", what, mask);
  return std::countr_zero(mask);
}

}  // namespace

Image decode_bmp(const uint8_t* data, size_t size, const std::string& what) {
  constexpr size_t kFileHeader = 14;
  if (size < kFileHeader + 40) fail("{}: truncated BMP header ({} bytes)", what, size);
  const uint32_t pixel_offset = read_u32(data + 10);
  const uint32_t header_size = read_u32(data + 14);
  if (header_size < 40 || header_size > size - kFileHeader)
    fail("{}: unsupported or corrupt BMP info header of {} bytes", what, header_size);
  const int64_t width = static_cast<int32_t>(read_u32(data + 18));
  const int64_t signed_height = static_cast<int32_t>(read_u32(data + 22));
  const uint16_t planes = read_u16(data + 26);
  const uint16_t bpp = read_u16(data + 28);
  const uint32_t compression = read_u32(data + 30);
  if (planes != 1) fail("{}: corrupt BMP (planes = {})", what, planes);
  const bool top_down = signed_height < 0;
  const int64_t height = std::llabs(signed_height);
  check_image_size(width, height, what);

  int shifts[3] = {16, 8, 0};  // R, G, B positions within a little-endian pixel word
  if (bpp == 24 && compression == kBiRgb) {
  } else if (bpp == 32 && compression == kBiRgb) {
  } else if (bpp == 32 && compression == kBiBitfields) {
    // Masks follow a 40-byte header, or sit inside a V2+ header at the same offset.
    if (size < kFileHeader + 40 + 12) fail("{}: truncated BMP channel masks", what);
    for (int c = 0; c < 3; ++c) shifts[c] = mask_shift(read_u32(data + kFileHeader + 40 + 4 * c), what);
  } else {
    fail("{}: unsupported BMP: {} bits per pixel, compression {} (only uncompressed 24/32-bit)", what, bpp,
         compression);
  }

  const size_t bytes_per_pixel = bpp / 8;
  const size_t stride = (static_cast<size_t>(width) * bpp + 31) / 32 * 4;
  if (pixel_offset < kFileHeader + header_size || pixel_offset > size ||
      stride * static_cast<size_t>(height) > size - pixel_offset)
    fail("{}: truncated BMP: {}x{} pixels need {} bytes of pixel data from offset {}, file has {} bytes", what,
         width, height, stride * static_cast<size_t>(height), pixel_offset, size);

  Image image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (int64_t y = 0; y < height; ++y) {
    const int64_t file_row = top_down ? y : height - 1 - y;
    const uint8_t* src = data + pixel_offset + static_cast<size_t>(file_row) * stride;
    uint8_t* dst = image.rgb.data() + static_cast<size_t>(y) * width * 3;
    for (int64_t x = 0; x < width; ++x, src += bytes_per_pixel, dst += 3) {
      const uint32_t word = bytes_per_pixel == 4 ? read_u32(src) : (src[0] | (src[1] << 8) | (src[2] << 16));
      for (int c = 0; c < 3; ++c) dst[c] = static_cast<uint8_t>(word >> shifts[c]);
    }
  }
  return image;
}

}  // namespace kiln::image
