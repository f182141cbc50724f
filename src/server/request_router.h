// Sends each HTTP request to the protocol that owns its path: /v1/... TF Serving REST,
// /v2... KServe v2, /metrics Prometheus text.
#pragma once

#include "server/http_message.h"
#include "server/serving_context.h"

namespace kiln::server {

void route_request(const ServingContext& ctx, HttpRequest request, Responder respond);

// The full /metrics page: request and latency families, model state, queue depth, GPUs.
std::string render_metrics_page(const ServingContext& ctx);

}  // namespace kiln::server
