// Parsers of request bodies: nested JSON tensors, base64, TF Serving row/columnar bodies,
// KServe v2 JSON and binary bodies; and the exact JSON the response writers produce.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "server/base64.h"
#include "server/json_writer.h"
#include "server/kserve_v2.h"
#include "server/tfserving_rest.h"

namespace kiln::server {
namespace {

const std::vector<TensorInfo> kTwoInputs = {{"x", DType::kF32, {kDynamic, 2, 3}}, {"ids", DType::kI64, {kDynamic, 2}}};
const std::vector<TensorInfo> kOneInput = {{"x", DType::kF32, {kDynamic, 3}}};

std::vector<float> values_of(const Tensor& t) {
  auto s = t.span<float>();
  return {s.begin(), s.end()};
}

TEST(Base64, KnownVectorsAndRoundTrip) {
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(*base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(*base64_decode("aGVsbG8"), "hello");  // unpadded
  EXPECT_EQ(*base64_decode("Zm9v\nYmFy"), "foobar");
  EXPECT_FALSE(base64_decode("aGVs!G8=").has_value());
  EXPECT_FALSE(base64_decode("a").has_value());
  EXPECT_FALSE(base64_decode("aG=Vs").has_value());
  std::mt19937 rng(3);
  for (int n = 0; n < 64; ++n) {
    std::string bytes(static_cast<size_t>(n), '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    auto back = base64_decode(base64_encode(bytes));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, bytes);
  }
}

TEST(JsonWriter, EscapesAndNumbers) {
  JsonWriter w;
  w.string("a\"b\\c\n\x01");
  w.raw(",");
  w.number(0.1f);
  w.raw(",");
  w.number(int64_t{-42});
  w.raw(",");
  w.number(std::nan(""));
  EXPECT_EQ(w.take(), "\"a\\\"b\\\\c\\n\\u0001\",0.1,-42,NaN");
}

TEST(TfServingParse, RowFormatSingleInput) {
  TfPredictRequest r;
  ASSERT_TRUE(parse_tf_predict(R"({"instances": [[1, 2.5, -3], [4e1, 5, 6]]})", kOneInput, {}, &r).ok());
  EXPECT_EQ(r.format, TfRequestFormat::kRow);
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_EQ(r.inputs[0].dims(), (Dims{2, 3}));
  EXPECT_EQ(values_of(r.inputs[0]), (std::vector<float>{1, 2.5f, -3, 40, 5, 6}));
}

// Floats with many significant digits, through the general parser (signature_name keeps the
// numeric fast path out) and through the fast path: both round like strtod. simdjson 3.0.1's
// own get_double read the first one as 0.00215 (found by fuzz_request_parser).
TEST(TfServingParse, LongFloatsAreReadCorrectly) {
  const std::string numbers =
      "[0.5555555555555555555552, -1.2345678901234567890123e-5, 0." + std::string(150, '5') + "2]";
  const std::vector<float> want = {0.5555556f, -1.2345679e-5f, 0.5555556f};
  for (const std::string& body : {R"({"signature_name": "", "instances": [)" + numbers + "]}",
                                  R"({"instances": [)" + numbers + "]}"}) {
    TfPredictRequest r;
    ASSERT_TRUE(parse_tf_predict(body, kOneInput, {}, &r).ok()) << body;
    EXPECT_EQ(values_of(r.inputs[0]), want) << body;
  }
}

TEST(TfServingParse, RowFormatNamedInputsAnyOrder) {
  TfPredictRequest r;
  const char* body = R"({"signature_name": "serving_default", "instances": [
      {"ids": [7, 8], "x": [[1,2,3],[4,5,6]]},
      {"x": [[0,0,1],[0,1,0]], "ids": [9, -1]}]})";
  Status s = parse_tf_predict(body, kTwoInputs, {}, &r);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(r.inputs[0].dims(), (Dims{2, 2, 3}));
  EXPECT_EQ(r.inputs[1].dims(), (Dims{2, 2}));
  EXPECT_EQ(r.inputs[1].dtype(), DType::kI64);
  auto ids = r.inputs[1].span<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(ids.begin(), ids.end()), (std::vector<int64_t>{7, 8, 9, -1}));
  EXPECT_EQ(values_of(r.inputs[0])[6 + 2], 1.f);
}

TEST(TfServingParse, ColumnarFormats) {
  TfPredictRequest r;
  ASSERT_TRUE(parse_tf_predict(R"({"inputs": [[1,2,3]]})", kOneInput, {}, &r).ok());
  EXPECT_EQ(r.format, TfRequestFormat::kColumnar);
  EXPECT_EQ(r.inputs[0].dims(), (Dims{1, 3}));
  ASSERT_TRUE(parse_tf_predict(R"({"inputs": {"x": [[[1,2,3],[4,5,6]]], "ids": [[1,2]]}})", kTwoInputs, {}, &r).ok());
  EXPECT_EQ(r.inputs[0].dims(), (Dims{1, 2, 3}));
}

TEST(TfServingParse, BadBodiesNameTheProblem) {
  struct Case {
    const char* body;
    const char* message_part;
  };
  const Case cases[] = {
      {"{bad", "malformed JSON"},
      {"[1,2]", "must be a JSON object"},
      {"{}", "Missing \"instances\" or \"inputs\""},
      {R"({"instances": [[1,2,3]], "inputs": [[1,2,3]]})", "Both \"instances\" and \"inputs\""},
      {R"({"instances": [[1,2,3],[1,2]]})", "instances[1]: expected 3 values, got 2"},
      {R"({"instances": [[1,"a",3]]})", "expected a number, got a string"},
      {R"({"instances": [[1,[2],3]]})", "instances[0][1]: expected a number, got a list"},
      // Ragged rows of an input with dynamic dims are found by the general parser.
      {R"({"signature_name": "", "instances": [[1,2,3],[1,2]]})", "ragged"},
      {R"({"instances": []})", "empty"},
      {R"({"instances": [{"y": [1,2,3]}]})", "unknown input \"y\""},
      {R"({"instances": [{"b64": "%%%"}]})", "not valid base64"},
      {R"({"instances": [{"b64": "aGVsbG8="}]})", "only accepted for image models"},
      {R"({"signature_name": "other", "instances": [[1,2,3]]})", "\"other\" not found"},
      {R"({"instances": [[1,2,3)", "malformed"},
  };
  for (const Case& c : cases) {
    TfPredictRequest r;
    Status s = parse_tf_predict(c.body, kOneInput, {}, &r);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << c.body;
    EXPECT_NE(s.message().find(c.message_part), std::string::npos) << c.body << " -> " << s.message();
  }
  TfPredictRequest r;
  Status s = parse_tf_predict(R"({"instances": [{"x": [[1,2,3],[4,5,6]]}]})", kTwoInputs, {}, &r);
  EXPECT_NE(s.message().find("missing input \"ids\""), std::string::npos) << s.message();
  s = parse_tf_predict(R"({"instances": [[1,2,3]]})", kTwoInputs, {}, &r);
  EXPECT_NE(s.message().find("has 2 inputs"), std::string::npos) << s.message();
}

TEST(TfServingResponse, ExactJson) {
  const std::vector<TensorInfo> outs = {{"p", DType::kF32, {kDynamic, 2}}, {"k", DType::kI64, {kDynamic}}};
  const Tensor p = Tensor::from_vector<float>({2, 2}, {0.5f, 1.5f, -2, 3});
  const Tensor k = Tensor::from_vector<int64_t>({2}, {4, 5});
  EXPECT_EQ(write_tf_predict_response(TfRequestFormat::kRow, {outs[0]}, {p}), R"({"predictions":[[0.5,1.5],[-2,3]]})");
  EXPECT_EQ(write_tf_predict_response(TfRequestFormat::kRow, outs, {p, k}),
            R"({"predictions":[{"p":[0.5,1.5],"k":4},{"p":[-2,3],"k":5}]})");
  EXPECT_EQ(write_tf_predict_response(TfRequestFormat::kColumnar, {outs[0]}, {p}), R"({"outputs":[[0.5,1.5],[-2,3]]})");
  EXPECT_EQ(write_tf_predict_response(TfRequestFormat::kColumnar, outs, {p, k}),
            R"({"outputs":{"p":[[0.5,1.5],[-2,3]],"k":[4,5]}})");
}

TEST(KServeParse, JsonFlatAndNestedData) {
  KServeInferRequest r;
  const char* body = R"({"id": "req-1", "inputs": [
      {"data": [1,2], "datatype": "INT64", "shape": [1,2], "name": "ids"},
      {"name": "x", "shape": [1,2,3], "datatype": "FP32", "data": [[[1,2,3],[4,5,6]]]}],
      "outputs": [{"name": "y", "parameters": {"binary_data": true}}]})";
  Status s = parse_kserve_infer(body, std::nullopt, kTwoInputs, {}, &r);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(r.id, "req-1");
  EXPECT_EQ(r.inputs[0].dims(), (Dims{1, 2, 3}));
  EXPECT_EQ(values_of(r.inputs[0]), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r.inputs[1].dims(), (Dims{1, 2}));
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_TRUE(r.outputs[0].binary);
}

TEST(KServeParse, BinaryTensorExtension) {
  const std::string header =
      R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","parameters":{"binary_data_size":24}}]})";
  const float values[6] = {1.5f, -2, 3, 4, 5, 6.25f};
  std::string body = header + std::string(reinterpret_cast<const char*>(values), sizeof values);
  KServeInferRequest r;
  Status s = parse_kserve_infer(body, header.size(), kOneInput, {}, &r);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(values_of(r.inputs[0]), (std::vector<float>{1.5f, -2, 3, 4, 5, 6.25f}));

  s = parse_kserve_infer(body.substr(0, body.size() - 4), header.size(), kOneInput, {}, &r);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.message();
  s = parse_kserve_infer(body, body.size() + 10, kOneInput, {}, &r);
  EXPECT_NE(s.message().find("larger than the body"), std::string::npos) << s.message();
}

TEST(KServeParse, BadRequests) {
  struct Case {
    const char* body;
    const char* message_part;
  };
  const Case cases[] = {
      {R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]})", "does not match"},
      {R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2]}]})", "has 2 elements"},
      {R"({"inputs":[{"name":"z","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})", "unknown input"},
      {R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32"}]})", "\"data\" is required"},
      {R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"BYTES","data":["aGk="]}]})", "only accepted for image"},
      {R"({"inputs":[]})", "missing input \"x\""},
      {R"({"outputs":[]})", "\"inputs\""},
      {R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"FLOAT","data":[1,2,3]}]})", "unknown datatype"},
  };
  for (const Case& c : cases) {
    KServeInferRequest r;
    Status s = parse_kserve_infer(c.body, std::nullopt, kOneInput, {}, &r);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << c.body;
    EXPECT_NE(s.message().find(c.message_part), std::string::npos) << c.body << " -> " << s.message();
  }
}

TEST(KServeResponse, JsonAndBinaryOutputs) {
  const std::vector<TensorInfo> outs = {{"y", DType::kF32, {kDynamic, 2}}};
  const Tensor y = Tensor::from_vector<float>({1, 2}, {0.25f, -1});
  KServeInferRequest req;
  req.id = "a";
  HttpResponse r = write_kserve_infer_response("m", 3, req, outs, {y});
  EXPECT_EQ(r.body,
            R"({"model_name":"m","model_version":"3","id":"a","outputs":[{"name":"y","datatype":"FP32","shape":[1,2],"data":[0.25,-1]}]})");
  req.outputs = {{"y", true}};
  r = write_kserve_infer_response("m", 3, req, outs, {y});
  const std::string json =
      R"({"model_name":"m","model_version":"3","id":"a","outputs":[{"name":"y","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}}]})";
  ASSERT_EQ(r.body.size(), json.size() + 8);
  EXPECT_EQ(r.body.substr(0, json.size()), json);
  float back[2];
  std::memcpy(back, r.body.data() + json.size(), 8);
  EXPECT_EQ(back[0], 0.25f);
  EXPECT_EQ(back[1], -1.f);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, std::to_string(json.size()));
}

// A cheap stand-in for the libFuzzer target that runs in every build: seeded random
// mutations of valid bodies must give ok or a 4xx Status, never throw or crash.
TEST(RequestParsers, SurviveMutatedBodies) {
  const std::string tf = R"({"instances": [{"x": [[1,2,3],[4,5,6]], "ids": [1,2]}], "signature_name": "serving_default"})";
  const std::string ks =
      R"({"inputs":[{"name":"x","shape":[1,2,3],"datatype":"FP32","data":[1,2,3,4,5,6]},)"
      R"({"name":"ids","shape":[1,2],"datatype":"INT64","parameters":{"binary_data_size":16}}]})";
  const std::string ks_body = ks + std::string(16, '\x01');
  std::mt19937 rng(1234);
  const char alphabet[] = "[]{},:\"0123456789.-eE abxnul\\";
  for (int iter = 0; iter < 3000; ++iter) {
    std::string body = iter % 2 ? tf : ks_body;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t pos = rng() % body.size();
      switch (rng() % 3) {
        case 0: body[pos] = alphabet[rng() % (sizeof alphabet - 1)]; break;
        case 1: body.erase(pos, 1 + rng() % 8); break;
        default: body.insert(pos, 1, alphabet[rng() % (sizeof alphabet - 1)]); break;
      }
    }
    Status s;
    if (iter % 2) {
      TfPredictRequest r;
      ASSERT_NO_THROW(s = parse_tf_predict(body, kTwoInputs, {}, &r)) << body;
      if (s.ok()) EXPECT_EQ(r.inputs.size(), 2u);
    } else {
      KServeInferRequest r;
      ASSERT_NO_THROW(s = parse_kserve_infer(body, ks.size() + rng() % 3, kTwoInputs, {}, &r)) << body;
      if (s.ok()) EXPECT_EQ(r.inputs.size(), 2u);
    }
    if (!s.ok()) EXPECT_TRUE(s.code() == ErrorCode::kInvalidArgument || s.code() == ErrorCode::kResourceExhausted)
        << error_code_name(s.code()) << ": " << s.message();
  }
}

}  // namespace
}  // namespace kiln::server
