#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "client/predict_request.h"
#include "core/error.h"

namespace kiln::client {
namespace {

using nlohmann::json;

Tensor random_batch(Dims dims, uint32_t seed) {
  Tensor t(DType::kF32, dims);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 2.f);
  for (auto& v : t.span<float>()) v = dist(rng);
  return t;
}

TEST(PredictRequest, TfServingJpegIsInstancesOfB64) {
  const HttpRequestSpec r =
      encoded_images_request(Protocol::kTfServing, "/v1/models/m:predict", "", {"foo", std::string("\xff\xd8\xff", 3)});
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/models/m:predict");
  EXPECT_EQ(r.content_type, "application/json");
  const json j = json::parse(r.body);
  ASSERT_EQ(j["instances"].size(), 2u);
  EXPECT_EQ(j["instances"][0]["b64"], "Zm9v");
  EXPECT_EQ(j["instances"][1]["b64"], "/9j/");
}

TEST(PredictRequest, KServeJpegIsABytesInput) {
  const HttpRequestSpec r = encoded_images_request(Protocol::kKServe, "/v2/models/m/infer", "image", {"foob"});
  const json j = json::parse(r.body);
  const json& in = j["inputs"][0];
  EXPECT_EQ(in["name"], "image");
  EXPECT_EQ(in["datatype"], "BYTES");
  EXPECT_EQ(in["shape"], json::array({1}));
  EXPECT_EQ(in["data"][0], "Zm9vYg==");
}

TEST(PredictRequest, TfServingJsonRowsHoldEveryValueExactly) {
  const Tensor batch = random_batch({2, 3, 4, 5}, 7);
  const HttpRequestSpec r = tensor_request(Protocol::kTfServing, Payload::kJson, "/t", "x", batch);
  const json j = json::parse(r.body);
  const json& rows = j["instances"];
  ASSERT_EQ(rows.size(), 2u);
  const float* v = batch.data<float>();
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 4; ++h)
        for (int w = 0; w < 5; ++w)
          ASSERT_EQ(rows[n][c][h][w].get<float>(), v[((n * 3 + c) * 4 + h) * 5 + w]) << n << c << h << w;
}

TEST(PredictRequest, KServeJsonIsFlatDataWithShape) {
  const Tensor batch = random_batch({3, 2, 2, 3}, 11);
  const HttpRequestSpec r = tensor_request(Protocol::kKServe, Payload::kJson, "/t", "input_1", batch);
  const json j = json::parse(r.body);
  const json& in = j["inputs"][0];
  EXPECT_EQ(in["name"], "input_1");
  EXPECT_EQ(in["datatype"], "FP32");
  EXPECT_EQ(in["shape"], json::array({3, 2, 2, 3}));
  ASSERT_EQ(in["data"].size(), static_cast<size_t>(batch.numel()));
  for (int64_t i = 0; i < batch.numel(); ++i) ASSERT_EQ(in["data"][i].get<float>(), batch.data<float>()[i]) << i;
}

TEST(PredictRequest, KServeBinaryAppendsRawBytesAfterTheHeader) {
  const Tensor batch = random_batch({1, 3, 4, 4}, 13);
  const HttpRequestSpec r = tensor_request(Protocol::kKServe, Payload::kBinary, "/t", "x", batch);
  EXPECT_EQ(r.content_type, "application/octet-stream");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Inference-Header-Content-Length");
  const size_t header = std::stoul(r.headers[0].second);
  ASSERT_EQ(r.body.size(), header + batch.nbytes());
  const json j = json::parse(r.body.substr(0, header));
  EXPECT_EQ(j["inputs"][0]["parameters"]["binary_data_size"], batch.nbytes());
  EXPECT_FALSE(j["inputs"][0].contains("data"));
  EXPECT_EQ(j["parameters"]["binary_data_output"], true);
  EXPECT_EQ(std::memcmp(r.body.data() + header, batch.raw(), batch.nbytes()), 0);
}

Tensor random_pixels(Dims dims, uint32_t seed) {
  Tensor t(DType::kU8, dims);
  std::mt19937 rng(seed);
  for (auto& v : t.span<uint8_t>()) v = static_cast<uint8_t>(rng() & 0xff);
  return t;
}

TEST(PredictRequest, PixelsAreUint8BinaryOrJsonIntegers) {
  const Tensor batch = random_pixels({2, 4, 4, 3}, 5);
  const uint8_t* v = batch.data<uint8_t>();
  HttpRequestSpec r = tensor_request(Protocol::kKServe, Payload::kBinary, "/t", "pixels", batch);
  const size_t header = std::stoul(r.headers[0].second);
  ASSERT_EQ(r.body.size(), header + 96u);
  json j = json::parse(r.body.substr(0, header));
  EXPECT_EQ(j["inputs"][0]["datatype"], "UINT8");
  EXPECT_EQ(j["inputs"][0]["parameters"]["binary_data_size"], 96);
  EXPECT_EQ(std::memcmp(r.body.data() + header, v, 96), 0);

  r = tensor_request(Protocol::kKServe, Payload::kJson, "/t", "pixels", batch);
  j = json::parse(r.body);
  EXPECT_EQ(j["inputs"][0]["datatype"], "UINT8");
  ASSERT_EQ(j["inputs"][0]["data"].size(), 96u);
  for (size_t i = 0; i < 96; ++i) {
    ASSERT_TRUE(j["inputs"][0]["data"][i].is_number_integer());
    ASSERT_EQ(j["inputs"][0]["data"][i].get<int>(), v[i]) << i;
  }

  r = tensor_request(Protocol::kTfServing, Payload::kJson, "/t", "pixels", batch);
  j = json::parse(r.body);
  ASSERT_EQ(j["instances"].size(), 2u);
  for (int n = 0; n < 2; ++n)
    for (int h = 0; h < 4; ++h)
      for (int w = 0; w < 4; ++w)
        for (int c = 0; c < 3; ++c)
          ASSERT_EQ(j["instances"][n][h][w][c].get<int>(), v[((n * 4 + h) * 4 + w) * 3 + c]);
  EXPECT_EQ(r.body.find('.'), std::string::npos);  // integers, not floats
}

TEST(PredictRequest, BinaryOverTfServingIsRefused) {
  const Tensor batch = random_batch({1, 3, 2, 2}, 1);
  EXPECT_THROW(tensor_request(Protocol::kTfServing, Payload::kBinary, "/t", "x", batch), Error);
  EXPECT_THROW(tensor_request(Protocol::kKServe, Payload::kJson, "/t", "x", Tensor(DType::kI64, {1, 2})), Error);
  EXPECT_THROW(parse_payload("protobuf"), Error);
  EXPECT_EQ(parse_payload("binary"), Payload::kBinary);
}

}  // namespace
}  // namespace kiln::client
