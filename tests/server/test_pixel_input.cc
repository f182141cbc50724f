// Pixel models (a uint8 [N,S,S,3] input whose engine normalizes on the device): which
// signatures are detected as one, and how both protocols fill the input from encoded
// images, uint8 tensors and JSON integers, refusing values that are not bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "image/preprocess.h"
#include "server/base64.h"
#include "server/image_input.h"
#include "server/json_tensor_reader.h"
#include "server/kserve_v2.h"
#include "server/tfserving_rest.h"

namespace kiln::server {
namespace {

constexpr int64_t kSize = 4;
const std::vector<TensorInfo> kPixelInput = {{"pixels", DType::kU8, {kDynamic, kSize, kSize, 3}}};

ImageInputSpec pixel_spec() {
  // Metadata keeps a 4x4 image as it is (resize_shorter 4, crop 4).
  return image_input_spec(kPixelInput, {{image::kPreprocessMetadataKey, R"({"resize_shorter":4,"crop":4})"}},
                          std::nullopt);
}

// A 24-bit top-down BMP of `rgb` (height x width x 3).
std::string bmp(int width, int height, const std::vector<uint8_t>& rgb) {
  const int stride = (width * 3 + 3) / 4 * 4;
  std::string f(54 + static_cast<size_t>(stride) * height, '\0');
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) f[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  f[0] = 'B';
  f[1] = 'M';
  put32(2, static_cast<uint32_t>(f.size()));
  put32(10, 54);
  put32(14, 40);
  put32(18, static_cast<uint32_t>(width));
  put32(22, static_cast<uint32_t>(-height));  // negative: rows top-down
  f[26] = 1;
  f[28] = 24;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        f[54 + static_cast<size_t>(y) * stride + x * 3 + c] = static_cast<char>(rgb[(y * width + x) * 3 + (2 - c)]);
  return f;
}

std::vector<uint8_t> ramp(uint8_t start) {
  std::vector<uint8_t> v(kSize * kSize * 3);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(start + 5 * i);
  return v;
}

std::vector<std::string> tokens(const std::vector<uint8_t>& v) {
  std::vector<std::string> t;
  for (uint8_t x : v) t.push_back(std::to_string(x));
  return t;
}

std::string json_list(const std::vector<std::string>& t) {
  std::string s = "[";
  for (size_t i = 0; i < t.size(); ++i) s += (i ? "," : "") + t[i];
  return s + "]";
}
std::string json_list(const std::vector<uint8_t>& v) { return json_list(tokens(v)); }

// One row as nested [H][W][3] JSON values.
std::string json_row(const std::vector<std::string>& t) {
  std::string s = "[";
  for (int64_t h = 0; h < kSize; ++h) {
    s += h ? ",[" : "[";
    for (int64_t w = 0; w < kSize; ++w) {
      const size_t at = static_cast<size_t>((h * kSize + w) * 3);
      s += (w ? "," : "") + json_list({t[at], t[at + 1], t[at + 2]});
    }
    s += "]";
  }
  return s + "]";
}
std::string json_row(const std::vector<uint8_t>& v) { return json_row(tokens(v)); }

std::vector<uint8_t> bytes_of(const Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw());
  return {p, p + t.nbytes()};
}

TEST(PixelInputSpec, Uint8NhwcIsAPixelModel) {
  const ImageInputSpec spec = pixel_spec();
  EXPECT_TRUE(spec.enabled);
  EXPECT_TRUE(spec.pixels);
  EXPECT_EQ(spec.height, kSize);
  EXPECT_EQ(spec.row_dtype(), DType::kU8);
  EXPECT_EQ(spec.row_bytes(), static_cast<size_t>(kSize * kSize * 3));
  EXPECT_TRUE(spec.preprocess.nhwc);

  const ImageInputSpec floats = image_input_spec({{"x", DType::kF32, {kDynamic, 3, 8, 8}}}, {}, std::nullopt);
  EXPECT_TRUE(floats.enabled);
  EXPECT_FALSE(floats.pixels);
  EXPECT_EQ(floats.row_bytes(), 3u * 8 * 8 * 4);
  // Not image models: uint8 channels first, uint8 of another rank; and config can say no.
  EXPECT_FALSE(image_input_spec({{"p", DType::kU8, {kDynamic, 3, 8, 8}}}, {}, std::nullopt).enabled);
  EXPECT_FALSE(image_input_spec({{"p", DType::kU8, {kDynamic, 12}}}, {}, std::nullopt).enabled);
  EXPECT_FALSE(image_input_spec(kPixelInput, {}, false).enabled);
  try {
    image_input_spec({{"p", DType::kU8, {kDynamic, 3, 8, 8}}}, {}, true);
    ADD_FAILURE() << "a forced uint8 NCHW image input was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[N,H,W,3]"), std::string::npos) << e.what();
  }
}

TEST(PixelInputTfServing, B64ImagesAndIntegerRowsFillTheUint8Input) {
  const ImageInputSpec spec = pixel_spec();
  const std::vector<uint8_t> a = ramp(0), b = ramp(100);
  const std::string body = R"({"instances": [{"b64": ")" + base64_encode(bmp(kSize, kSize, a)) + R"("}, )" +
                           json_row(b) + "]}";
  TfPredictRequest r;
  Status s = parse_tf_predict(body, kPixelInput, spec, &r);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_EQ(r.inputs[0].dtype(), DType::kU8);
  EXPECT_EQ(r.inputs[0].dims(), (Dims{2, kSize, kSize, 3}));
  std::vector<uint8_t> want = a;
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(bytes_of(r.inputs[0]), want);
}

TEST(PixelInputTfServing, LargerImagesAreResizedNotNormalized) {
  const ImageInputSpec spec = pixel_spec();
  // A solid 9x6 image: resized and cropped to 4x4 it keeps its colour exactly.
  std::vector<uint8_t> solid(9 * 6 * 3);
  for (size_t i = 0; i < solid.size(); ++i) solid[i] = i % 3 == 0 ? 250 : i % 3 == 1 ? 3 : 77;
  TfPredictRequest r;
  Status s = parse_tf_predict(R"({"instances": [{"b64": ")" + base64_encode(bmp(9, 6, solid)) + R"("}]})",
                              kPixelInput, spec, &r);
  ASSERT_TRUE(s.ok()) << s.message();
  const std::vector<uint8_t> got = bytes_of(r.inputs[0]);
  ASSERT_EQ(got.size(), static_cast<size_t>(kSize * kSize * 3));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], solid[i % 3]) << i;
}

TEST(PixelInputTfServing, ValuesThatAreNotBytesNameTheirPosition) {
  const ImageInputSpec spec = pixel_spec();
  const std::string good = json_row(ramp(0));
  for (auto [value, message] : {std::pair{"256", "256 at [1,3,2] is out of range for uint8 (0..255)"},
                                std::pair{"-1", "-1 at [1,3,2] is out of range for uint8 (0..255)"},
                                std::pair{"1.5", "expected an integer at [1,3,2], got 1.5"},
                                std::pair{"\"7\"", "expected a number, got a string"}}) {
    std::vector<std::string> row = tokens(ramp(0));
    row[(1 * kSize + 3) * 3 + 2] = value;  // element [1][3][2]
    const std::string text = json_row(row);
    TfPredictRequest r;
    Status s = parse_tf_predict(R"({"instances": [)" + good + "," + text + "]}", kPixelInput, spec, &r);
    ASSERT_FALSE(s.ok()) << value;
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(s.message().find(message), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("row 1"), std::string::npos) << s.message();
  }
  // An image row of the wrong channel count.
  TfPredictRequest r;
  Status s = parse_tf_predict(R"({"instances": [[[[1, 2, 3, 4]]]]})", kPixelInput, spec, &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("HxWx3"), std::string::npos) << s.message();
}

TEST(PixelInputKServe, Uint8BinaryJsonAndBytes) {
  const ImageInputSpec spec = pixel_spec();
  const std::vector<uint8_t> a = ramp(1), b = ramp(9);
  std::vector<uint8_t> both = a;
  both.insert(both.end(), b.begin(), b.end());

  const std::string header = R"({"inputs":[{"name":"pixels","datatype":"UINT8","shape":[2,4,4,3],)"
                             R"("parameters":{"binary_data_size":96}}]})";
  KServeInferRequest r;
  Status s = parse_kserve_infer(header + std::string(both.begin(), both.end()), header.size(), kPixelInput, spec, &r);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(r.inputs[0].dtype(), DType::kU8);
  EXPECT_EQ(bytes_of(r.inputs[0]), both);

  KServeInferRequest j;
  s = parse_kserve_infer(R"({"inputs":[{"name":"pixels","datatype":"UINT8","shape":[2,4,4,3],"data":)" +
                             json_list(both) + "}]}",
                         std::nullopt, kPixelInput, spec, &j);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(bytes_of(j.inputs[0]), both);

  KServeInferRequest e;
  s = parse_kserve_infer(R"({"inputs":[{"name":"pixels","datatype":"BYTES","shape":[2],"data":[")" +
                             base64_encode(bmp(kSize, kSize, a)) + R"(",")" + base64_encode(bmp(kSize, kSize, b)) +
                             R"("]}]})",
                         std::nullopt, kPixelInput, spec, &e);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(e.inputs[0].dims(), (Dims{2, kSize, kSize, 3}));
  EXPECT_EQ(bytes_of(e.inputs[0]), both);
}

TEST(PixelInputKServe, BadValuesAndDatatypes) {
  const ImageInputSpec spec = pixel_spec();
  std::vector<uint8_t> row = ramp(0);
  std::string data = json_list(row);
  data.replace(data.find(",5,") + 1, 1, "300");
  KServeInferRequest r;
  Status s = parse_kserve_infer(R"({"inputs":[{"name":"pixels","datatype":"UINT8","shape":[1,4,4,3],"data":)" +
                                    data + "}]}",
                                std::nullopt, kPixelInput, spec, &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("300 at [1] is out of range for uint8"), std::string::npos) << s.message();

  s = parse_kserve_infer(R"({"inputs":[{"name":"pixels","datatype":"FP32","shape":[1,4,4,3],"data":[0]}]})",
                         std::nullopt, kPixelInput, spec, &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("FP32 does not match the model's UINT8"), std::string::npos) << s.message();

  const std::string header = R"({"inputs":[{"name":"pixels","datatype":"UINT8","shape":[1,4,4,3],)"
                             R"("parameters":{"binary_data_size":47}}]})";
  s = parse_kserve_infer(header + std::string(47, '\x01'), header.size(), kPixelInput, spec, &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("binary data has 47 bytes"), std::string::npos) << s.message();
}

TEST(JsonTensorReader, IntegerRangesFollowTheDtype) {
  const auto read = [](DType dtype, const std::string& json) {
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(json);
    simdjson::ondemand::document doc;
    if (parser.iterate(padded).get(doc)) return Status(ErrorCode::kInternal, "bad test JSON");
    simdjson::ondemand::value v;
    if (doc.get_value().get(v)) return Status(ErrorCode::kInternal, "bad test JSON");
    JsonTensorReader reader(dtype, "t");
    return reader.read_whole(v);
  };
  EXPECT_TRUE(read(DType::kU8, "[0, 255]").ok());
  EXPECT_TRUE(read(DType::kI8, "[-128, 127]").ok());
  EXPECT_TRUE(read(DType::kI32, "[-2147483648, 2147483647]").ok());
  EXPECT_TRUE(read(DType::kI64, "[-9223372036854775808, 9223372036854775807]").ok());
  EXPECT_EQ(read(DType::kI8, "[[0, 128]]").message(), "t: 128 at [0,1] is out of range for int8 (-128..127)");
  EXPECT_EQ(read(DType::kI32, "[2147483648]").message(),
            "t: 2147483648 at [0] is out of range for int32 (-2147483648..2147483647)");
  EXPECT_EQ(read(DType::kU8, "[1, 2.0, 2.5]").message(), "t: expected an integer at [2], got 2.5");
}

}  // namespace
}  // namespace kiln::server
