// TensorFlow Serving REST API (v1): model status, metadata and predict, with TF Serving's
// request formats (row "instances", columnar "inputs"), {"b64": ...} binary values and
// error mapping. See docs/serving.md for the exact shapes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "server/http_message.h"
#include "server/image_input.h"
#include "server/serving_context.h"

namespace kiln::server {

enum class TfRequestFormat { kRow, kColumnar };

struct TfPredictRequest {
  TfRequestFormat format = TfRequestFormat::kRow;
  std::vector<Tensor> inputs;  // in the model's input order
};

// Parses a :predict body for a model with these inputs. Never throws; any malformed or
// mismatched body gives kInvalidArgument with a message naming the problem.
Status parse_tf_predict(std::string_view body, const std::vector<TensorInfo>& inputs, const ImageInputSpec& image,
                        TfPredictRequest* out);

// Writes {"predictions": ...} (row format) or {"outputs": ...} (columnar).
std::string write_tf_predict_response(TfRequestFormat format, const std::vector<TensorInfo>& outputs,
                                      const std::vector<Tensor>& values);

// Handles every /v1/... path; calls `respond` exactly once.
void handle_tfserving(const ServingContext& ctx, const HttpRequest& request, Clock::time_point received,
                      Responder respond);

}  // namespace kiln::server
