// The bodies of predict requests, in the two protocols and three payload forms a client
// can send an image in:
//   jpeg   — the encoded file, base64 in JSON: TF Serving {"instances": [{"b64": ...}]},
//            KServe a BYTES input; the server decodes and preprocesses.
//   json   — the preprocessed tensor as JSON numbers: TF Serving {"instances": rows},
//            KServe {"inputs": [{"data": [...]}]}.
//   binary — KServe's binary tensor extension: the JSON header, then the raw tensor bytes
//            (Inference-Header-Content-Length), with the outputs asked for in binary too.
// The tensor is FP32 (normalized), or UINT8 pixels for a model that normalizes on the GPU.
#pragma once

#include <string>
#include <vector>

#include "client/http_connection.h"
#include "client/model_signature.h"
#include "core/tensor.h"

namespace kiln::client {

enum class Payload { kJpeg, kJson, kBinary };
Payload parse_payload(const std::string& text);  // "jpeg" | "json" | "binary"; throws otherwise
const char* payload_name(Payload payload);
const char* protocol_name(Protocol protocol);

// Encoded image files, one batch row each. `input_name` is needed for KServe only.
HttpRequestSpec encoded_images_request(Protocol protocol, const std::string& target, const std::string& input_name,
                                       const std::vector<std::string>& encoded_images);

// A preprocessed batch [N, ...] for input `input_name`: f32 (datatype FP32) or u8 pixels
// (datatype UINT8, JSON integers). Throws for binary with TF Serving, which has no binary form.
HttpRequestSpec tensor_request(Protocol protocol, Payload payload, const std::string& target,
                               const std::string& input_name, const Tensor& batch);

}  // namespace kiln::client
