#include "image_fixtures.h"

#include <png.h>
#include <turbojpeg.h>

#include <csetjmp>
#include <cstring>
#include <stdexcept>

namespace kiln::image::testing {
namespace {

void append(png_structp png, png_bytep data, png_size_t size) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + size);
}
void put_u32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  for (int i = 0; i < 4; ++i) v[at + i] = static_cast<uint8_t>(x >> (8 * i));
}
void put_u16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
  v[at] = static_cast<uint8_t>(x);
  v[at + 1] = static_cast<uint8_t>(x >> 8);
}

bool write_png(std::vector<uint8_t>* out, int width, int height, int color_type, int bit_depth,
               const uint8_t* rows_data, size_t row_bytes, const png_color* palette, int palette_size) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, out, append, nullptr);
  png_set_IHDR(png, info, width, height, bit_depth, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (palette_size > 0) png_set_PLTE(png, info, palette, palette_size);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y) png_write_row(png, rows_data + static_cast<size_t>(y) * row_bytes);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

Image pattern_image(int width, int height) {
  Image im{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        im.rgb[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>((x * x * 7 + y * 13 + c * 29 + (x * y * c) % 17 + ((x + y * 3) % 5) * 40) % 256);
  return im;
}

std::vector<uint8_t> encode_png(int width, int height, int color_type, int bit_depth,
                                const std::vector<uint8_t>& packed_rows, const std::vector<uint8_t>& palette) {
  std::vector<png_color> colors;
  for (size_t i = 0; i + 2 < palette.size(); i += 3) colors.push_back({palette[i], palette[i + 1], palette[i + 2]});
  std::vector<uint8_t> out;
  const size_t row_bytes = packed_rows.size() / height;
  if (!write_png(&out, width, height, color_type, bit_depth, packed_rows.data(), row_bytes, colors.data(),
                 static_cast<int>(colors.size())))
    throw std::runtime_error("test PNG encoding failed");
  return out;
}

std::vector<uint8_t> encode_bmp(const Image& image, int bits, bool top_down, bool bitfields) {
  const size_t header = 14 + 40 + (bitfields ? 12 : 0);
  const size_t stride = (static_cast<size_t>(image.width) * bits + 31) / 32 * 4;
  std::vector<uint8_t> v(header + stride * image.height, 0);
  v[0] = 'B';
  v[1] = 'M';
  put_u32(v, 2, static_cast<uint32_t>(v.size()));
  put_u32(v, 10, static_cast<uint32_t>(header));
  put_u32(v, 14, 40);
  put_u32(v, 18, static_cast<uint32_t>(image.width));
  put_u32(v, 22, static_cast<uint32_t>(top_down ? -image.height : image.height));
  put_u16(v, 26, 1);
  put_u16(v, 28, static_cast<uint16_t>(bits));
  put_u32(v, 30, bitfields ? 3 : 0);
  if (bitfields) {
    put_u32(v, 54, 0x00ff0000);
    put_u32(v, 58, 0x0000ff00);
    put_u32(v, 62, 0x000000ff);
  }
  for (int y = 0; y < image.height; ++y) {
    const int row = top_down ? y : image.height - 1 - y;
    uint8_t* dst = v.data() + header + static_cast<size_t>(row) * stride;
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* p = image.rgb.data() + (static_cast<size_t>(y) * image.width + x) * 3;
      const size_t at = static_cast<size_t>(x) * (bits / 8);
      dst[at] = p[2];
      dst[at + 1] = p[1];
      dst[at + 2] = p[0];
      if (bits == 32) dst[at + 3] = 0x7f;
    }
  }
  return v;
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  tjhandle handle = tjInitCompress();
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(handle, image.rgb.data(), image.width, image.width * 3, image.height, TJPF_RGB, &buffer,
                             &size, TJSAMP_444, quality, TJFLAG_ACCURATEDCT);
  std::vector<uint8_t> out;
  if (rc == 0) out.assign(buffer, buffer + size);
  tjFree(buffer);
  tjDestroy(handle);
  if (rc != 0) throw std::runtime_error("test JPEG encoding failed");
  return out;
}

}  // namespace kiln::image::testing
