// Encoders for test fixtures: small PNG, BMP and JPEG files with known pixels.
#pragma once

#include <cstdint>
#include <vector>

#include "image/image.h"

namespace kiln::image::testing {

// A deterministic, non-constant RGB pattern.
Image pattern_image(int width, int height);

// color_type: PNG_COLOR_TYPE_*; samples are `channels` per pixel at bit_depth (8 or 16,
// 16-bit samples big-endian as PNG stores them). palette: RGB triples for palette images.
std::vector<uint8_t> encode_png(int width, int height, int color_type, int bit_depth,
                                const std::vector<uint8_t>& packed_rows, const std::vector<uint8_t>& palette = {});
// 24- or 32-bit BMP; bitfields writes 32-bit BI_BITFIELDS with masks R=0xff0000 G=0xff00 B=0xff.
std::vector<uint8_t> encode_bmp(const Image& image, int bits, bool top_down, bool bitfields = false);
std::vector<uint8_t> encode_jpeg(const Image& image, int quality);

}  // namespace kiln::image::testing
