#include <gtest/gtest.h>

#include <cstring>

#include "client/predict_response.h"
#include "core/error.h"

namespace kiln::client {
namespace {

std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }

TEST(PredictResponse, TfRowPredictions) {
  const auto out = parse_tf_predict_body(R"({"predictions":[[0.1,0.7,0.2],[0.5,0.25,0.25]]})");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].values.dims(), (Dims{2, 3}));
  EXPECT_EQ(values(out[0].values), (std::vector<float>{0.1f, 0.7f, 0.2f, 0.5f, 0.25f, 0.25f}));
}

TEST(PredictResponse, TfRowPredictionsWithNamedOutputs) {
  const auto out = parse_tf_predict_body(
      R"({"predictions":[{"probs":[0.9,0.1],"classes":0},{"probs":[0.2,0.8],"classes":1}]})");
  ASSERT_EQ(out.size(), 2u);
  const auto& probs = out[0].name == "probs" ? out[0] : out[1];
  const auto& classes = out[0].name == "probs" ? out[1] : out[0];
  EXPECT_EQ(probs.values.dims(), (Dims{2, 2}));
  EXPECT_EQ(values(probs.values), (std::vector<float>{0.9f, 0.1f, 0.2f, 0.8f}));
  EXPECT_EQ(classes.values.dims(), (Dims{2}));
  EXPECT_EQ(values(classes.values), (std::vector<float>{0, 1}));
}

TEST(PredictResponse, TfColumnarOutputs) {
  const auto out = parse_tf_predict_body(R"({"outputs":[[1,2],[3,4],[5,6]]})");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].values.dims(), (Dims{3, 2}));
  EXPECT_EQ(values(out[0].values)[5], 6.f);
}

TEST(PredictResponse, KServeJsonData) {
  const auto out = parse_kserve_infer_body(
      R"({"model_name":"m","model_version":"1","outputs":[{"name":"y","datatype":"FP32","shape":[2,2],"data":[1.5,-2,3,4]}]})",
      std::nullopt);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "y");
  EXPECT_EQ(out[0].values.dims(), (Dims{2, 2}));
  EXPECT_EQ(values(out[0].values), (std::vector<float>{1.5f, -2.f, 3.f, 4.f}));
}

TEST(PredictResponse, KServeBinaryData) {
  const std::string header =
      R"({"outputs":[{"name":"y","datatype":"FP32","shape":[1,3],"parameters":{"binary_data_size":12}},)"
      R"({"name":"k","datatype":"INT64","shape":[1],"parameters":{"binary_data_size":8}}]})";
  const float y[3] = {0.25f, -1.f, 3.5f};
  const int64_t k = 2;
  std::string body = header;
  body.append(reinterpret_cast<const char*>(y), sizeof y);
  body.append(reinterpret_cast<const char*>(&k), sizeof k);
  HttpReply reply;
  reply.body = body;
  reply.headers.push_back({"inference-header-content-length", std::to_string(header.size())});
  const auto out = parse_predict_reply(Protocol::kKServe, reply);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(values(out[0].values), (std::vector<float>{0.25f, -1.f, 3.5f}));
  EXPECT_EQ(values(out[1].values), (std::vector<float>{2.f}));
}

TEST(PredictResponse, MalformedRepliesThrowNamingTheProblem) {
  for (const char* bad : {"", "<html>", "{}", R"({"predictions":5})", R"({"predictions":[[1,2],[3]]})",
                          R"({"predictions":[["a"]]})", R"({"predictions":[[1,[2]]]})"}) {
    EXPECT_THROW(parse_tf_predict_body(bad), Error) << bad;
  }
  for (const char* bad : {"{}", R"({"outputs":[{"name":"y","datatype":"FP32","shape":[2],"data":[1]}]})",
                          R"({"outputs":[{"name":"y","datatype":"FP32","data":[1]}]})",
                          R"({"outputs":[{"name":"y","datatype":"FP32","shape":[2]}]})"}) {
    EXPECT_THROW(parse_kserve_infer_body(bad, std::nullopt), Error) << bad;
  }
  // Binary sizes that do not add up.
  const std::string header =
      R"({"outputs":[{"name":"y","datatype":"FP32","shape":[1,3],"parameters":{"binary_data_size":12}}]})";
  EXPECT_THROW(parse_kserve_infer_body(header + "abc", header.size()), Error);
  EXPECT_THROW(parse_kserve_infer_body(header, header.size() + 5), Error);
  const std::string wrong =
      R"({"outputs":[{"name":"y","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":12}}]})";
  EXPECT_THROW(parse_kserve_infer_body(wrong + std::string(12, '\0'), wrong.size()), Error);
}

}  // namespace
}  // namespace kiln::client
