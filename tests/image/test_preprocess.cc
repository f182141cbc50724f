#include <cstring>

#include <gtest/gtest.h>

#include "core/error.h"
#include "image/preprocess.h"
#include "image/resize.h"
#include "image_fixtures.h"

namespace kiln::image {
namespace {

using testing::pattern_image;

TEST(Preprocess, DefaultsAreTorchvisionImageNet) {
  const Preprocess p = preprocess_from_metadata({});
  EXPECT_EQ(p.resize_shorter, 256);
  EXPECT_EQ(p.crop, 224);
  EXPECT_TRUE(p.antialias);
  EXPECT_FLOAT_EQ(p.mean[0], 0.485f);
  EXPECT_FLOAT_EQ(p.std[2], 0.225f);
  EXPECT_FLOAT_EQ(p.scale, 1 / 255.f);
  EXPECT_FALSE(p.bgr);
  EXPECT_FALSE(p.nhwc);
}

TEST(Preprocess, JsonRoundTripAndOverrides) {
  Preprocess p;
  p.resize_shorter = 300;
  p.crop = 0;
  p.bgr = true;
  p.nhwc = true;
  p.mean = {103.9f, 116.8f, 123.7f};
  p.std = {1, 1, 1};
  p.scale = 1;
  const Preprocess q = preprocess_from_metadata({{"other", "x"}, {kPreprocessMetadataKey, preprocess_to_json(p)}});
  EXPECT_EQ(q.resize_shorter, 300);
  EXPECT_EQ(q.crop, 0);
  EXPECT_TRUE(q.bgr);
  EXPECT_TRUE(q.nhwc);
  EXPECT_FLOAT_EQ(q.mean[1], 116.8f);
  EXPECT_FLOAT_EQ(q.scale, 1.f);
  EXPECT_EQ(preprocess_from_json(R"({"crop": 160})").crop, 160);
}

TEST(Preprocess, BadMetadataIsAClearError) {
  for (const char* bad : {"not json", "[1,2]", R"({"crop": "big"})", R"({"std": [1, 0, 1]})",
                          R"({"mean": [1, 2]})", R"({"layout": "NCWH"})", R"({"channel_order": "GBR"})",
                          R"({"resize_shorter": -5})"}) {
    try {
      preprocess_from_json(bad);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("kiln.preprocess"), std::string::npos) << e.what();
    }
  }
}

TEST(Preprocess, NormalizesEachChannel) {
  // No resize or crop: output = (v / 255 - mean) / std, checked per value against hand math.
  const Image im = pattern_image(5, 3);
  Preprocess p;
  p.resize_shorter = 0;
  p.crop = 0;
  std::vector<float> chw(5 * 3 * 3);
  preprocess_into(im, p, chw.data());
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 15; ++i)
      EXPECT_NEAR(chw[c * 15 + i], (im.rgb[i * 3 + c] / 255.f - p.mean[c]) / p.std[c], 1e-5f);
  // Hand-checked: value 255 in channel 0 -> (1 - 0.485) / 0.229 = 2.2489.
  Image white{1, 1, {255, 0, 128}};
  float v[3];
  preprocess_into(white, p, v);
  EXPECT_NEAR(v[0], 2.24891f, 1e-4f);
  EXPECT_NEAR(v[1], -2.03571f, 1e-4f);
  EXPECT_NEAR(v[2], (128 / 255.f - 0.406f) / 0.225f, 1e-5f);
}

TEST(Preprocess, BgrAndNhwcLayouts) {
  const Image im = pattern_image(4, 2);
  Preprocess p;
  p.resize_shorter = 0;
  p.crop = 0;
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  p.scale = 1;
  p.bgr = true;
  p.nhwc = true;
  std::vector<float> hwc(24);
  preprocess_into(im, p, hwc.data());
  for (int i = 0; i < 8; ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(hwc[i * 3 + c], im.rgb[i * 3 + (2 - c)]);
}

TEST(Preprocess, BatchIsResizeThenCropThenNormalize) {
  const std::vector<Image> images = {pattern_image(300, 260), pattern_image(260, 400)};
  const Preprocess p;
  const Tensor batch = preprocess_batch(images, p);
  ASSERT_EQ(batch.dims(), (Dims{2, 3, 224, 224}));
  for (int n = 0; n < 2; ++n) {
    int w = 0, h = 0;
    size_for_shorter_side(images[n].width, images[n].height, 256, &w, &h);
    const Image expected = center_crop(resize_bilinear(images[n], w, h), 224, 224);
    const float* out = batch.data<float>() + n * 3 * 224 * 224;
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 224 * 224; i += 97)
        ASSERT_NEAR(out[c * 224 * 224 + i], (expected.rgb[i * 3 + c] / 255.f - p.mean[c]) / p.std[c], 1e-5f);
  }
}

TEST(Preprocess, PixelBatchIsResizeThenCropWithoutNormalizing) {
  const std::vector<Image> images = {pattern_image(300, 260), pattern_image(260, 400)};
  Preprocess p;
  p.bgr = true;  // channel order and normalization are the engine's: pixels stay RGB
  const Tensor batch = pixel_batch(images, p);
  ASSERT_EQ(batch.dtype(), DType::kU8);
  ASSERT_EQ(batch.dims(), (Dims{2, 224, 224, 3}));
  for (int n = 0; n < 2; ++n) {
    int w = 0, h = 0;
    size_for_shorter_side(images[n].width, images[n].height, 256, &w, &h);
    const Image expected = center_crop(resize_bilinear(images[n], w, h), 224, 224);
    EXPECT_EQ(0, std::memcmp(batch.data<uint8_t>() + n * 224 * 224 * 3, expected.rgb.data(), 224 * 224 * 3));
  }
  Preprocess uncropped;
  uncropped.crop = 0;
  EXPECT_THROW(pixel_batch({pattern_image(300, 260), pattern_image(260, 400)}, uncropped), Error);
}

TEST(Preprocess, BatchOfDifferentSizesWithoutCropIsRejected) {
  Preprocess p;
  p.crop = 0;
  EXPECT_THROW(preprocess_batch({pattern_image(300, 260), pattern_image(260, 400)}, p), Error);
  EXPECT_THROW(preprocess_batch({}, p), Error);
}

}  // namespace
}  // namespace kiln::image
