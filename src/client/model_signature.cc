#include "client/model_signature.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace kiln::client {

using nlohmann::json;

Protocol parse_protocol(const std::string& text) {
  if (text == "tfserving" || text == "tf" || text == "tf-serving") return Protocol::kTfServing;
  if (text == "kserve" || text == "v2") return Protocol::kKServe;
  fail("--protocol \"{}\": expected tfserving or kserve", text);
}

std::string model_path(Protocol protocol, const std::string& model, std::optional<int64_t> version) {
  std::string p = (protocol == Protocol::kTfServing ? "/v1/models/" : "/v2/models/") + model;
  if (version) p += "/versions/" + std::to_string(*version);
  return p;
}

std::string metadata_path(Protocol protocol, const std::string& model, std::optional<int64_t> version) {
  return model_path(protocol, model, version) + (protocol == Protocol::kTfServing ? "/metadata" : "");
}

std::string predict_path(Protocol protocol, const std::string& model, std::optional<int64_t> version) {
  return model_path(protocol, model, version) + (protocol == Protocol::kTfServing ? ":predict" : "/infer");
}

namespace {

json parse_json(const std::string& body, const char* what) {
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    fail("{}: the server's reply is not JSON: {}", what, e.what());
  }
}

std::string kserve_from_tf_dtype(const std::string& tf) {
  static const std::pair<const char*, const char*> kNames[] = {
      {"DT_FLOAT", "FP32"}, {"DT_HALF", "FP16"},   {"DT_BFLOAT16", "BF16"}, {"DT_DOUBLE", "FP64"},
      {"DT_INT8", "INT8"},  {"DT_UINT8", "UINT8"}, {"DT_INT16", "INT16"},   {"DT_INT32", "INT32"},
      {"DT_INT64", "INT64"}, {"DT_BOOL", "BOOL"},  {"DT_STRING", "BYTES"}};
  for (auto [t, k] : kNames)
    if (tf == t) return k;
  return tf;
}

int64_t dim_value(const json& size) {
  // TF Serving writes int64 sizes as JSON strings; accept numbers too.
  if (size.is_number_integer()) return size.get<int64_t>();
  if (size.is_string()) {
    try {
      return std::stoll(size.get<std::string>());
    } catch (const std::exception&) {
    }
  }
  fail("model metadata: dimension size {} is not an integer", size.dump());
}

std::vector<TensorSpec> tf_tensor_map(const json& map, const char* what) {
  if (!map.is_object()) fail("TF Serving metadata: signature \"serving_default\" has no {} map", what);
  std::vector<TensorSpec> out;
  for (const auto& [key, info] : map.items()) {
    TensorSpec t;
    t.name = info.value("name", key);
    t.datatype = kserve_from_tf_dtype(info.value("dtype", std::string("DT_INVALID")));
    if (info.contains("tensor_shape") && info["tensor_shape"].contains("dim"))
      for (const auto& d : info["tensor_shape"]["dim"]) t.dims.push_back(dim_value(d.at("size")));
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<TensorSpec> kserve_tensor_list(const json& list, const char* what) {
  if (!list.is_array()) fail("KServe metadata: \"{}\" is not a list", what);
  std::vector<TensorSpec> out;
  for (const auto& info : list) {
    TensorSpec t;
    t.name = info.at("name").get<std::string>();
    t.datatype = info.value("datatype", std::string());
    if (info.contains("shape"))
      for (const auto& d : info["shape"]) t.dims.push_back(dim_value(d));
    out.push_back(std::move(t));
  }
  return out;
}

std::optional<std::string> preprocess_parameter(const json& parameters) {
  if (!parameters.is_object() || !parameters.contains(image::kPreprocessMetadataKey)) return std::nullopt;
  const json& p = parameters[image::kPreprocessMetadataKey];
  return p.is_string() ? p.get<std::string>() : p.dump();
}

}  // namespace

ModelSignature parse_tf_metadata(const std::string& body) {
  const json j = parse_json(body, "TF Serving model metadata");
  ModelSignature sig;
  try {
    sig.model = j.at("model_spec").value("name", std::string());
    const json& defs = j.at("metadata").at("signature_def").at("signature_def");
    const json& def = defs.contains("serving_default") ? defs["serving_default"] : defs.begin().value();
    sig.inputs = tf_tensor_map(def.at("inputs"), "inputs");
    sig.outputs = tf_tensor_map(def.at("outputs"), "outputs");
    if (j["metadata"].contains("parameters")) sig.preprocess_json = preprocess_parameter(j["metadata"]["parameters"]);
  } catch (const json::exception& e) {
    fail("TF Serving model metadata is missing a field: {}", e.what());
  }
  return sig;
}

ModelSignature parse_kserve_metadata(const std::string& body) {
  const json j = parse_json(body, "KServe model metadata");
  ModelSignature sig;
  try {
    sig.model = j.value("name", std::string());
    sig.inputs = kserve_tensor_list(j.at("inputs"), "inputs");
    sig.outputs = kserve_tensor_list(j.at("outputs"), "outputs");
    if (j.contains("parameters")) sig.preprocess_json = preprocess_parameter(j["parameters"]);
  } catch (const json::exception& e) {
    fail("KServe model metadata is missing a field: {}", e.what());
  }
  return sig;
}

ImageInputShape image_input_shape(const ModelSignature& signature) {
  const std::string model = signature.model.empty() ? "the model" : "model \"" + signature.model + "\"";
  if (signature.inputs.size() != 1)
    fail("{} has {} inputs; sending images needs a model with one image input", model, signature.inputs.size());
  const TensorSpec& in = signature.inputs[0];
  ImageInputShape shape;
  shape.pixels = in.datatype == "UINT8";
  if (in.datatype != "FP32" && !shape.pixels)
    fail("{}: input \"{}\" is {}, not an FP32 or UINT8 image input", model, in.name, in.datatype);
  if (in.dims.size() != 4) fail("{}: input \"{}\" has {} dimensions, not 4 (N,C,H,W or N,H,W,C)", model, in.name, in.dims.size());
  // Pixel inputs are RGB bytes as decoded, channels last.
  const bool nchw = !shape.pixels && in.dims[1] == 3, nhwc = in.dims[3] == 3;
  if (!nchw && !nhwc)
    fail("{}: input \"{}\" has no 3-channel axis{}", model, in.name,
         shape.pixels ? " (UINT8 image inputs are [N,H,W,3])" : "");
  shape.height = nchw ? in.dims[2] : in.dims[1];
  shape.width = nchw ? in.dims[3] : in.dims[2];
  if (shape.height <= 0 || shape.height != shape.width)
    fail("{}: input \"{}\" is not a square image of static size", model, in.name);
  if (signature.preprocess_json) {
    shape.preprocess = image::preprocess_from_json(*signature.preprocess_json);
  } else if (shape.height != shape.preprocess.crop) {
    // torchvision's 256/224 ratio of resize to crop, for other input sizes.
    shape.preprocess.resize_shorter = static_cast<int>(std::lround(shape.height * 256.0 / 224.0));
  }
  shape.preprocess.crop = static_cast<int>(shape.height);
  shape.preprocess.nhwc = !nchw;
  return shape;
}

}  // namespace kiln::client
