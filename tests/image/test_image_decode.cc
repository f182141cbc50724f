#include <gtest/gtest.h>
#include <png.h>

#include <cstdlib>
#include <fstream>

#include "core/error.h"
#include "image/image.h"
#include "image_fixtures.h"

namespace kiln::image {
namespace {

using testing::encode_bmp;
using testing::encode_jpeg;
using testing::encode_png;
using testing::pattern_image;

Image decode(const std::vector<uint8_t>& bytes) { return decode_image(bytes.data(), bytes.size(), "fixture"); }

std::vector<uint8_t> rgb8_rows(const Image& im) { return im.rgb; }

TEST(DecodePng, Rgb8RoundTrip) {
  const Image im = pattern_image(13, 7);
  const Image out = decode(encode_png(13, 7, PNG_COLOR_TYPE_RGB, 8, rgb8_rows(im)));
  EXPECT_EQ(out.width, 13);
  EXPECT_EQ(out.height, 7);
  EXPECT_EQ(out.rgb, im.rgb);
}

TEST(DecodePng, Rgb16KeepsHighByte) {
  const Image im = pattern_image(5, 4);
  std::vector<uint8_t> rows;
  for (uint8_t v : im.rgb) {
    rows.push_back(v);                       // high byte
    rows.push_back(static_cast<uint8_t>(~v));  // low byte: must not matter
  }
  EXPECT_EQ(decode(encode_png(5, 4, PNG_COLOR_TYPE_RGB, 16, rows)).rgb, im.rgb);
}

TEST(DecodePng, RgbaDropsAlpha) {
  const Image im = pattern_image(6, 3);
  std::vector<uint8_t> rows;
  for (size_t i = 0; i < im.rgb.size(); i += 3) rows.insert(rows.end(), {im.rgb[i], im.rgb[i + 1], im.rgb[i + 2], 17});
  EXPECT_EQ(decode(encode_png(6, 3, PNG_COLOR_TYPE_RGB_ALPHA, 8, rows)).rgb, im.rgb);
}

TEST(DecodePng, GrayAndGrayAlphaReplicate) {
  std::vector<uint8_t> gray = {0, 50, 100, 150, 200, 250};
  Image out = decode(encode_png(3, 2, PNG_COLOR_TYPE_GRAY, 8, gray));
  ASSERT_EQ(out.rgb.size(), 18u);
  for (size_t i = 0; i < gray.size(); ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(out.rgb[i * 3 + c], gray[i]);
  std::vector<uint8_t> gray_alpha = {10, 255, 20, 0, 30, 128, 40, 7};
  out = decode(encode_png(2, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 8, gray_alpha));
  EXPECT_EQ(out.rgb, (std::vector<uint8_t>{10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40}));
}

TEST(DecodePng, PaletteAndLowBitDepth) {
  const std::vector<uint8_t> palette = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7};
  // 4 pixels of 2-bit indices 0,1,2,3 packed into one byte per row.
  const std::vector<uint8_t> rows = {0b00011011, 0b11100100};
  const Image out = decode(encode_png(4, 2, PNG_COLOR_TYPE_PALETTE, 2, rows, palette));
  EXPECT_EQ(out.rgb, (std::vector<uint8_t>{255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7,  //
                                           9, 8, 7, 0, 0, 255, 0, 255, 0, 255, 0, 0}));
  // 1-bit grey: 0 -> 0, 1 -> 255.
  const Image bits = decode(encode_png(8, 1, PNG_COLOR_TYPE_GRAY, 1, {0b10100000}));
  EXPECT_EQ(bits.rgb[0], 255);
  EXPECT_EQ(bits.rgb[3], 0);
  EXPECT_EQ(bits.rgb[6], 255);
}

TEST(DecodeBmp, AllLayoutsRoundTrip) {
  const Image im = pattern_image(7, 5);  // odd width: rows need padding in 24-bit
  for (int bits : {24, 32})
    for (bool top_down : {false, true}) {
      const Image out = decode(encode_bmp(im, bits, top_down));
      EXPECT_EQ(out.width, 7);
      EXPECT_EQ(out.height, 5);
      EXPECT_EQ(out.rgb, im.rgb) << bits << " bits, top_down " << top_down;
    }
  EXPECT_EQ(decode(encode_bmp(im, 32, false, /*bitfields=*/true)).rgb, im.rgb);
}

TEST(DecodeJpeg, CloseToSourceAtHighQuality) {
  const Image im = pattern_image(32, 24);
  // A smooth image so that JPEG at quality 100 is near-lossless.
  Image smooth = im;
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 32; ++x)
      for (int c = 0; c < 3; ++c) smooth.rgb[(y * 32 + x) * 3 + c] = static_cast<uint8_t>(40 + x * 4 + y * 2 + c * 30);
  const Image out = decode(encode_jpeg(smooth, 100));
  ASSERT_EQ(out.width, 32);
  ASSERT_EQ(out.height, 24);
  int worst = 0;
  for (size_t i = 0; i < out.rgb.size(); ++i) worst = std::max(worst, std::abs(out.rgb[i] - smooth.rgb[i]));
  EXPECT_LE(worst, 3);
}

TEST(DecodeJpeg, MatchesPilOnSamplePhoto) {
  // Values from PIL 13 (Image.open(...).convert("RGB")) on data/images/sample.jpg.
  const Image im = load_image(std::string(KILN_SOURCE_DIR) + "/data/images/sample.jpg");
  ASSERT_EQ(im.width, 535);
  ASSERT_EQ(im.height, 426);
  int64_t sum = 0;
  for (uint8_t v : im.rgb) sum += v;
  EXPECT_EQ(sum, 68368984);
  auto px = [&](int y, int x) {
    const uint8_t* p = &im.rgb[(static_cast<size_t>(y) * im.width + x) * 3];
    return std::vector<int>{p[0], p[1], p[2]};
  };
  EXPECT_EQ(px(0, 0), (std::vector<int>{25, 58, 11}));
  EXPECT_EQ(px(200, 300), (std::vector<int>{95, 92, 59}));
  EXPECT_EQ(px(425, 534), (std::vector<int>{26, 52, 27}));
}

void expect_error_mentioning(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    decode_image(bytes.data(), bytes.size(), "bad.img");
    FAIL() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("bad.img"), std::string::npos) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << message;
  }
}

TEST(DecodeErrors, EmptyUnknownAndTruncated) {
  expect_error_mentioning({}, "empty");
  expect_error_mentioning({'G', 'I', 'F', '8', '9', 'a', 0, 0}, "unknown image format");
  const Image im = pattern_image(16, 16);
  for (const auto& full : {encode_png(16, 16, PNG_COLOR_TYPE_RGB, 8, im.rgb), encode_bmp(im, 24, false),
                           encode_jpeg(im, 90)}) {
    for (size_t keep : {size_t{3}, size_t{20}, full.size() / 2, full.size() - 16}) {
      std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(keep));
      EXPECT_THROW(decode_image(cut.data(), cut.size(), "bad.img"), Error) << "kept " << keep << " bytes";
    }
  }
}

TEST(DecodeErrors, CorruptHeadersAndHugeSizes) {
  const Image im = pattern_image(8, 8);
  std::vector<uint8_t> bmp = encode_bmp(im, 24, false);
  bmp[28] = 8;  // 8 bits per pixel: unsupported
  expect_error_mentioning(bmp, "unsupported BMP");
  bmp = encode_bmp(im, 24, false);
  bmp[18] = 0xff;
  bmp[19] = 0xff;
  bmp[20] = 0xff;
  bmp[21] = 0x00;  // width 16 M: beyond the pixel limit or the file size
  EXPECT_THROW(decode(bmp), Error);
  std::vector<uint8_t> png = encode_png(8, 8, PNG_COLOR_TYPE_RGB, 8, im.rgb);
  png[40] ^= 0xff;  // damage the compressed data (CRC mismatch)
  EXPECT_THROW(decode(png), Error);
  std::vector<uint8_t> jpeg = encode_jpeg(im, 90);
  for (size_t i = jpeg.size() / 2; i < jpeg.size() - 2; ++i) jpeg[i] = 0xff;
  EXPECT_THROW(decode(jpeg), Error);
  EXPECT_THROW(check_image_size(20000, 20000, "x"), Error);
  EXPECT_NO_THROW(check_image_size(10000, 10000, "x"));
}

TEST(LoadImage, MissingFileIsNotFound) {
  try {
    load_image("/nonexistent/kiln/photo.jpg");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/kiln/photo.jpg"), std::string::npos);
  }
}

}  // namespace
}  // namespace kiln::image
