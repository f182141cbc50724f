#include <gtest/gtest.h>

#include "client/model_signature.h"
#include "core/error.h"

namespace kiln::client {
namespace {

// The metadata replies exactly as kiln serve (and TF Serving) write them.
const char* kTfMetadata = R"({"model_spec":{"name":"default","signature_name":"","version":"1"},
 "metadata":{"signature_def":{"signature_def":{"serving_default":{
  "inputs":{"x":{"dtype":"DT_FLOAT","tensor_shape":{"dim":[{"size":"-1","name":""},{"size":"3","name":""},
    {"size":"32","name":""},{"size":"32","name":""}],"unknown_rank":false},"name":"x"}},
  "outputs":{"y":{"dtype":"DT_FLOAT","tensor_shape":{"dim":[{"size":"-1","name":""},{"size":"10","name":""}],
    "unknown_rank":false},"name":"y"}},
  "method_name":"tensorflow/serving/predict"}}}}})";

const char* kKServeMetadata = R"({"name":"resnet","versions":["2","1"],"platform":"kiln",
 "inputs":[{"name":"input_1","datatype":"FP32","shape":[-1,224,224,3]}],
 "outputs":[{"name":"probs","datatype":"FP32","shape":[-1,1001]},{"name":"classes","datatype":"INT64","shape":[-1]}]})";

TEST(ModelSignature, ReadsTfServingMetadata) {
  const ModelSignature s = parse_tf_metadata(kTfMetadata);
  EXPECT_EQ(s.model, "default");
  ASSERT_EQ(s.inputs.size(), 1u);
  EXPECT_EQ(s.inputs[0].name, "x");
  EXPECT_EQ(s.inputs[0].datatype, "FP32");
  EXPECT_EQ(s.inputs[0].dims, (std::vector<int64_t>{-1, 3, 32, 32}));
  ASSERT_EQ(s.outputs.size(), 1u);
  EXPECT_EQ(s.outputs[0].dims, (std::vector<int64_t>{-1, 10}));
  EXPECT_FALSE(s.preprocess_json.has_value());
}

TEST(ModelSignature, ReadsKServeMetadata) {
  const ModelSignature s = parse_kserve_metadata(kKServeMetadata);
  EXPECT_EQ(s.model, "resnet");
  ASSERT_EQ(s.inputs.size(), 1u);
  EXPECT_EQ(s.inputs[0].name, "input_1");
  EXPECT_EQ(s.inputs[0].dims, (std::vector<int64_t>{-1, 224, 224, 3}));
  ASSERT_EQ(s.outputs.size(), 2u);
  EXPECT_EQ(s.outputs[1].datatype, "INT64");
}

TEST(ModelSignature, ImageShapeFollowsTheServersRule) {
  // 32x32 NCHW: ImageNet defaults with torchvision's 256/224 resize ratio, crop 32.
  ImageInputShape a = image_input_shape(parse_tf_metadata(kTfMetadata));
  EXPECT_EQ(a.height, 32);
  EXPECT_EQ(a.preprocess.crop, 32);
  EXPECT_EQ(a.preprocess.resize_shorter, 37);  // round(32 * 256 / 224)
  EXPECT_FALSE(a.preprocess.nhwc);
  // 224 NHWC: exactly the defaults, channels last.
  ImageInputShape b = image_input_shape(parse_kserve_metadata(kKServeMetadata));
  EXPECT_EQ(b.height, 224);
  EXPECT_EQ(b.preprocess.resize_shorter, 256);
  EXPECT_EQ(b.preprocess.crop, 224);
  EXPECT_TRUE(b.preprocess.nhwc);
  EXPECT_FLOAT_EQ(b.preprocess.mean[0], 0.485f);
}

TEST(ModelSignature, PublishedPreprocessingWins) {
  const char* with_params = R"({"name":"m","inputs":[{"name":"x","datatype":"FP32","shape":[1,3,64,64]}],
    "outputs":[{"name":"y","datatype":"FP32","shape":[1,5]}],
    "parameters":{"kiln.preprocess":"{\"resize_shorter\":80,\"channel_order\":\"BGR\",\"scale\":1.0}"}})";
  const ModelSignature s = parse_kserve_metadata(with_params);
  ASSERT_TRUE(s.preprocess_json.has_value());
  const ImageInputShape shape = image_input_shape(s);
  EXPECT_EQ(shape.preprocess.resize_shorter, 80);
  EXPECT_EQ(shape.preprocess.crop, 64);
  EXPECT_TRUE(shape.preprocess.bgr);
  EXPECT_FLOAT_EQ(shape.preprocess.scale, 1.0f);
}

TEST(ModelSignature, Uint8NhwcInputIsAPixelModel) {
  const char* pixels = R"({"name":"m","inputs":[{"name":"p","datatype":"UINT8","shape":[-1,224,224,3]}],
    "outputs":[{"name":"y","datatype":"FP32","shape":[-1,1000]}]})";
  const ImageInputShape shape = image_input_shape(parse_kserve_metadata(pixels));
  EXPECT_TRUE(shape.pixels);
  EXPECT_EQ(shape.height, 224);
  EXPECT_EQ(shape.preprocess.resize_shorter, 256);
  EXPECT_EQ(shape.preprocess.crop, 224);
  EXPECT_TRUE(shape.preprocess.nhwc);
  EXPECT_FALSE(image_input_shape(parse_tf_metadata(kTfMetadata)).pixels);
  // uint8 images are channels last: a [N,3,S,S] uint8 input is not one.
  const char* nchw = R"({"name":"m","inputs":[{"name":"p","datatype":"UINT8","shape":[-1,3,8,8]}],"outputs":[]})";
  try {
    image_input_shape(parse_kserve_metadata(nchw));
    ADD_FAILURE() << "accepted a uint8 NCHW input";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[N,H,W,3]"), std::string::npos) << e.what();
  }
}

TEST(ModelSignature, NonImageModelsAreRefusedWithTheReason) {
  const char* two_inputs = R"({"name":"m","inputs":[{"name":"a","datatype":"FP32","shape":[1,4]},
    {"name":"b","datatype":"FP32","shape":[1,4]}],"outputs":[]})";
  const char* ints = R"({"name":"m","inputs":[{"name":"a","datatype":"INT64","shape":[1,3,8,8]}],"outputs":[]})";
  const char* not_square = R"({"name":"m","inputs":[{"name":"a","datatype":"FP32","shape":[1,3,8,9]}],"outputs":[]})";
  const char* no_channels = R"({"name":"m","inputs":[{"name":"a","datatype":"FP32","shape":[1,5,8,8]}],"outputs":[]})";
  for (auto [body, why] : {std::pair{two_inputs, "2 inputs"}, std::pair{ints, "INT64"},
                           std::pair{not_square, "not a square"}, std::pair{no_channels, "3-channel"}}) {
    try {
      image_input_shape(parse_kserve_metadata(body));
      ADD_FAILURE() << "accepted " << body;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

TEST(ModelSignature, MalformedMetadataThrowsNotCrashes) {
  for (const char* bad : {"", "not json", "[]", "{}", R"({"model_spec":{}})", R"({"inputs":5,"outputs":[]})",
                          R"({"inputs":[{"datatype":"FP32"}],"outputs":[]})",
                          R"({"inputs":[{"name":"x","shape":["a"]}],"outputs":[]})"}) {
    EXPECT_THROW(parse_kserve_metadata(bad), Error) << bad;
    EXPECT_THROW(parse_tf_metadata(bad), Error) << bad;
  }
}

TEST(ModelSignature, RequestPaths) {
  EXPECT_EQ(predict_path(Protocol::kTfServing, "resnet", std::nullopt), "/v1/models/resnet:predict");
  EXPECT_EQ(predict_path(Protocol::kTfServing, "resnet", 3), "/v1/models/resnet/versions/3:predict");
  EXPECT_EQ(metadata_path(Protocol::kTfServing, "resnet", std::nullopt), "/v1/models/resnet/metadata");
  EXPECT_EQ(predict_path(Protocol::kKServe, "resnet", 2), "/v2/models/resnet/versions/2/infer");
  EXPECT_EQ(metadata_path(Protocol::kKServe, "resnet", std::nullopt), "/v2/models/resnet");
  EXPECT_EQ(parse_protocol("kserve"), Protocol::kKServe);
  EXPECT_THROW(parse_protocol("grpc"), Error);
}

}  // namespace
}  // namespace kiln::client
