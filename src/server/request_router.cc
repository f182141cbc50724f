#include "server/request_router.h"

#include "server/kserve_v2.h"
#include "server/metrics.h"
#include "server/model_repository.h"
#include "server/nvml_gauges.h"
#include "server/tfserving_rest.h"

namespace kiln::server {

std::string render_metrics_page(const ServingContext& ctx) {
  std::string out;
  if (ctx.metrics) ctx.metrics->render(out);
  if (ctx.repository) ctx.repository->render_metrics(out);
  if (ctx.nvml) ctx.nvml->render(out);
  return out;
}

void route_request(const ServingContext& ctx, HttpRequest request, Responder respond) {
  const auto received = Clock::now();
  const std::string_view path = path_of(request.target);
  try {
    if (path.substr(0, 4) == "/v1/") return handle_tfserving(ctx, request, received, std::move(respond));
    if (path == "/v2" || path.substr(0, 4) == "/v2/") return handle_kserve(ctx, request, received, std::move(respond));
    if (path == "/metrics") {
      if (request.method != "GET") return respond(error_response(405, "/metrics needs GET"));
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = render_metrics_page(ctx);
      return respond(std::move(r));
    }
    respond(error_response(404, fmt::format("Malformed request: {} {} (endpoints: /v1/models/..., /v2/..., /metrics)",
                                            request.method, path)));
  } catch (const Error& e) {
    // Cold-path helpers throw; a request must still get an answer.
    respond(error_response(Status::from_error(e)));
  } catch (const std::exception& e) {
    respond(error_response(500, std::string("internal error: ") + e.what()));
  }
}

}  // namespace kiln::server
