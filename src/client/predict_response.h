// Reads the outputs out of a predict reply: TF Serving {"predictions": ...} (row) or
// {"outputs": ...} (columnar), KServe {"outputs": [...]} with JSON data or binary data after
// the JSON header. Values become f32 tensors (class scores are all a client prints).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "client/http_connection.h"
#include "client/model_signature.h"
#include "core/tensor.h"

namespace kiln::client {

struct NamedOutput {
  std::string name;  // "" for a TF Serving single-output reply, which does not name it
  Tensor values;     // f32
};

// Throws kiln::Error naming the malformed part.
std::vector<NamedOutput> parse_predict_reply(Protocol protocol, const HttpReply& reply);
std::vector<NamedOutput> parse_tf_predict_body(const std::string& body);
std::vector<NamedOutput> parse_kserve_infer_body(const std::string& body, std::optional<size_t> header_length);

}  // namespace kiln::client
