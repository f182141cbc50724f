// The TF Serving numeric fast path: it must give exactly the general parser's tensor for
// every body it accepts, decline what it cannot judge, and name the list whose length
// is wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include <fmt/format.h>

#include "server/numeric_json_fast_path.h"
#include "server/tfserving_rest.h"

namespace kiln::server {
namespace {

const std::vector<TensorInfo> kImage = {{"x", DType::kF32, {kDynamic, 2, 3, 4}}};
const std::vector<TensorInfo> kScalarRows = {{"x", DType::kF32, {kDynamic}}};

FastPathOutcome fast(std::string_view body, const std::vector<TensorInfo>& inputs, Tensor* t, Status* s,
                     const ImageInputSpec& image = {}) {
  bool columnar = false;
  return parse_numeric_predict_fast(body, inputs, image, t, &columnar, s);
}

// The general parser's result: a leading "signature_name" key makes the fast path decline.
Tensor general(const std::string& body, const std::vector<TensorInfo>& inputs) {
  std::string b = body;
  b.insert(b.find('{') + 1, R"("signature_name": "", )");
  TfPredictRequest r;
  Status s = parse_tf_predict(b, inputs, {}, &r);
  EXPECT_TRUE(s.ok()) << s.message();
  return s.ok() ? r.inputs[0] : Tensor();
}

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dims(), b.dims());
  ASSERT_EQ(a.dtype(), b.dtype());
  for (int64_t i = 0; i < a.numel(); ++i)  // bit-exact, signs of zero included
    EXPECT_EQ(std::memcmp(a.data<float>() + i, b.data<float>() + i, sizeof(float)), 0)
        << "element " << i << ": " << a.data<float>()[i] << " vs " << b.data<float>()[i];
}

std::string random_number(std::mt19937& rng) {
  std::uniform_int_distribution<int> kind(0, 9);
  std::normal_distribution<double> normal(0, 3);
  switch (kind(rng)) {
    case 0: return std::to_string(static_cast<int64_t>(normal(rng) * 1000));
    case 1: return fmt::format("{:.17g}", normal(rng));
    case 2: return fmt::format("{:.3e}", normal(rng) * 1e30);
    case 3: return fmt::format("{:.9E}", normal(rng) * 1e-30);
    case 4: return "-0";
    case 5: return "-0.0";
    // More digits than a uint64 holds: the library parse (and simdjson's get_number() bug).
    case 6: return "-1.2345678901234567890123e-5";
    case 7: return "123456789012345678";
    case 8: return fmt::format("{:.6g}", static_cast<float>(normal(rng)));
    default: return fmt::format("{}", normal(rng));
  }
}

TEST(NumericJsonFastPath, BitExactWithTheGeneralParser) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    const int rows = 1 + trial % 5;
    std::string body = trial % 3 ? R"({"instances": [)" : "\n{ \"inputs\" :[ ";
    for (int r = 0; r < rows; ++r) {
      body += r ? ", [" : "[";
      for (int c = 0; c < 2; ++c) {
        body += c ? ",\t[" : "[";
        for (int y = 0; y < 3; ++y) {
          body += y ? "," : "";
          body += "[";
          for (int x = 0; x < 4; ++x) body += (x ? " , " : "") + random_number(rng);
          body += "]";
        }
        body += "]";
      }
      body += "]";
    }
    body += "]}\r\n";
    Tensor t;
    Status s;
    ASSERT_EQ(fast(body, kImage, &t, &s), FastPathOutcome::kParsed) << body;
    EXPECT_EQ(t.dims(), (Dims{rows, 2, 3, 4}));
    expect_same(t, general(body, kImage));
  }
}

TEST(NumericJsonFastPath, GrowsPastItsFirstGuessAndTakesScalarRows) {
  std::string body = R"({"instances": [)";
  for (int i = 0; i < 5000; ++i) body += (i ? "," : "") + std::to_string(i % 7);
  body += "]}";
  Tensor t;
  Status s;
  ASSERT_EQ(fast(body, kScalarRows, &t, &s), FastPathOutcome::kParsed);
  ASSERT_EQ(t.dims(), (Dims{5000}));
  expect_same(t, general(body, kScalarRows));
}

TEST(NumericJsonFastPath, NamesTheListOfTheWrongLength) {
  const std::vector<TensorInfo> model = {{"x", DType::kF32, {kDynamic, 2, 3}}};
  struct Case {
    const char* body;
    const char* message;
  };
  const Case cases[] = {
      {R"({"instances": [[[1,2,3],[4,5,6]], [[1,2,3],[4,5]]]})", "instances[1][1]: expected 3 values, got 2"},
      {R"({"instances": [[[1,2,3],[4,5,6],[7,8,9]]]})", "instances[0]: expected 2 lists, got 3"},
      {R"({"instances": [[[1,2,3,4],[4,5,6]]]})", "instances[0][0]: expected 3 values, got 4"},
      {R"({"instances": [[[1,2,3],[4,[5],6]]]})", "instances[0][1][1]: expected a number, got a list"},
      {R"({"instances": [[[1,2,3],7]]})", "instances[0][1]: expected a list of 3 values, got a number"},
      {R"({"inputs": [5]})", "inputs[0]: expected a list of 2 values, got a number"},
      {R"({"instances": [[]]})", "instances[0]: expected 2 lists, got 0"},
  };
  for (const Case& c : cases) {
    Tensor t;
    Status s;
    ASSERT_EQ(fast(c.body, model, &t, &s), FastPathOutcome::kRejected) << c.body;
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("input \"x\""), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("expected shape [N,2,3]"), std::string::npos) << s.message();
    // The public parser gives the same answer.
    TfPredictRequest r;
    EXPECT_EQ(parse_tf_predict(c.body, model, {}, &r).message(), s.message());
  }
}

TEST(NumericJsonFastPath, DeclinesWhatTheGeneralParserJudges) {
  const std::vector<TensorInfo> model = {{"x", DType::kF32, {kDynamic, 2}}};
  const char* bodies[] = {
      R"({"instances": []})",           R"({"instances": [[1,true]]})",      R"({"instances": [[1,"2"]]})",
      R"({"instances": [[1,null]]})",   R"({"instances": [[1,{"b64":"x"}]]})", R"({"instances": [[01,2]]})",
      R"({"instances": [[1.,2]]})",     R"({"instances": [[.5,2]]})",        R"({"instances": [[+1,2]]})",
      R"({"instances": [[1,2],]})",     R"({"instances": [[1,2,]]})",        R"({"instances": [[1 2]]})",
      R"({"instances": [[1,2]]} x)",    R"({"instances": [[1,2]], "a": 1})", R"({"instances": [[1,2])",
      R"({"instances": [[1,1e999]]})",  R"({"instances": [[1,-]]})",         R"({"instances": [[1,1e]]})",
      R"({"instances": [[1,NaN]]})",    R"({"instances": [[1,Infinity]]})",  R"({"instances": [[1,12345678901234567890]]})",
      R"({"\u0069nstances": [[1,2]]})", R"({"instances": [[1,2)",            R"({"instances")",
      R"({"signature_name": "serving_default", "instances": [[1,2]]})",
  };
  for (const char* body : bodies) {
    Tensor t;
    Status s;
    EXPECT_EQ(fast(body, model, &t, &s), FastPathOutcome::kDeclined) << body;
  }
  // Other dtypes, several inputs and dynamic row dims are the general parser's too.
  Tensor t;
  Status s;
  EXPECT_EQ(fast(R"({"instances": [[1,2]]})", {{"x", DType::kF64, {kDynamic, 2}}}, &t, &s), FastPathOutcome::kDeclined);
  EXPECT_EQ(fast(R"({"instances": [[1,2]]})", {{"x", DType::kF32, {kDynamic, kDynamic}}}, &t, &s),
            FastPathOutcome::kDeclined);
  // An image model's rows of another shape may be raw pixels: declined, not rejected.
  ImageInputSpec image;
  image.enabled = true;
  EXPECT_EQ(fast(R"({"instances": [[1,2,3]]})", model, &t, &s, image), FastPathOutcome::kDeclined);
  EXPECT_EQ(fast(R"({"instances": [[1,2]]})", model, &t, &s, image), FastPathOutcome::kParsed);
}

}  // namespace
}  // namespace kiln::server
