// KServe v2 / Open Inference Protocol over HTTP: health, server and model metadata,
// readiness and infer, with JSON tensors and the binary tensor data extension
// (Inference-Header-Content-Length; "binary_data_size" on inputs, "binary_data" on
// requested outputs). BYTES inputs of an image model carry encoded images.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "server/http_message.h"
#include "server/image_input.h"
#include "server/serving_context.h"

namespace kiln::server {

struct KServeRequestedOutput {
  std::string name;
  bool binary = false;
};

struct KServeInferRequest {
  std::string id;
  std::vector<Tensor> inputs;                   // in the model's input order
  std::vector<KServeRequestedOutput> outputs;   // empty: all outputs, JSON unless binary_data_output
  bool binary_data_output = false;
};

// Parses an infer body (`header_length`: the Inference-Header-Content-Length, if sent).
// Never throws; malformed or mismatched requests give kInvalidArgument naming the problem.
// `body_owner`, when it keeps `body` alive, lets binary tensors that start 64-byte aligned
// in the body share its memory instead of being copied out.
Status parse_kserve_infer(std::string_view body, std::optional<size_t> header_length,
                          const std::vector<TensorInfo>& inputs, const ImageInputSpec& image, KServeInferRequest* out,
                          std::shared_ptr<void> body_owner = nullptr);

// The infer response; binary outputs are appended after the JSON and announced in headers.
HttpResponse write_kserve_infer_response(const std::string& model, int64_t version, const KServeInferRequest& request,
                                         const std::vector<TensorInfo>& outputs, const std::vector<Tensor>& values);

// Handles every /v2 path; calls `respond` exactly once.
void handle_kserve(const ServingContext& ctx, const HttpRequest& request, Clock::time_point received,
                   Responder respond);

}  // namespace kiln::server
