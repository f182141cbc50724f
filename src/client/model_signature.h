// What a client needs to know about a served model: its inputs and outputs (names,
// KServe datatypes, dims with -1 for dynamic), read from the server's model metadata in
// either protocol, and how to preprocess images for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "image/preprocess.h"

namespace kiln::client {

enum class Protocol { kTfServing, kKServe };
Protocol parse_protocol(const std::string& text);  // "tfserving" | "kserve"; throws otherwise

struct TensorSpec {
  std::string name;
  std::string datatype;       // KServe spelling: "FP32", "INT64", "BYTES" ...
  std::vector<int64_t> dims;  // -1: dynamic
};

struct ModelSignature {
  std::string model;
  std::vector<TensorSpec> inputs, outputs;
  std::optional<std::string> preprocess_json;  // "kiln.preprocess" when the server publishes it
};

// The request paths of a model ("/v1/models/M[/versions/V]", "/v2/models/M[/versions/V]"),
// without the URL's base path.
std::string model_path(Protocol protocol, const std::string& model, std::optional<int64_t> version);
std::string metadata_path(Protocol protocol, const std::string& model, std::optional<int64_t> version);
std::string predict_path(Protocol protocol, const std::string& model, std::optional<int64_t> version);

// Parse the metadata replies (GET .../metadata for TF Serving, GET /v2/models/M for
// KServe). Throw kiln::Error naming the missing or malformed field.
ModelSignature parse_tf_metadata(const std::string& body);
ModelSignature parse_kserve_metadata(const std::string& body);

// How images become rows of the model's input: the published preprocessing, else the
// ImageNet defaults fitted to the input's size and layout (the rule kiln serve uses).
struct ImageInputShape {
  image::Preprocess preprocess;
  int64_t height = 0, width = 0;
  // A UINT8 [N,S,S,3] input (a plan built with --image-input): the client sends resized
  // and cropped RGB bytes (image::pixel_batch) and the server's GPU normalizes them.
  bool pixels = false;
};
// Throws unless the model has one FP32 input shaped [N,3,S,S] or [N,S,S,3], or one UINT8
// input shaped [N,S,S,3].
ImageInputShape image_input_shape(const ModelSignature& signature);

}  // namespace kiln::client
