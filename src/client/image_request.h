// Turns image files into a ready-to-send predict request for a served model, in any
// protocol and payload form. Shared by `kiln predict` (one request) and `kiln loadgen`
// (one request sent many times).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "client/http_connection.h"
#include "client/model_signature.h"
#include "client/predict_request.h"

namespace kiln::client {

struct PredictTarget {
  std::string model = "default";
  std::optional<int64_t> version;
  Protocol protocol = Protocol::kTfServing;
  Payload payload = Payload::kJpeg;
};

// True when building the request needs the model's signature (input name, shape): every
// payload but TF Serving's {"b64": ...}, which names nothing.
bool needs_signature(const PredictTarget& target);

// GET the model metadata over `connection` and parse it; throws with the server's message.
ModelSignature fetch_signature(HttpConnection& connection, const PredictTarget& target);

struct ImageFile {
  std::string path;   // for messages
  std::string bytes;  // the encoded file
};
// Reads the file; throws kiln::Error naming the path when it cannot.
ImageFile read_image_file(const std::string& path);

// One request carrying the images as batch rows. `signature` may be null when
// needs_signature() is false. json and binary payloads decode and preprocess here (for a
// UINT8 pixel model: resize and crop only, sent as UINT8 / JSON integers).
HttpRequestSpec build_image_request(const ServerUrl& url, const PredictTarget& target, const ModelSignature* signature,
                                    const std::vector<ImageFile>& images);

}  // namespace kiln::client
