#include "server/model_server.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include "server/http_server.h"
#include "server/metrics.h"
#include "server/model_repository.h"
#include "server/nvml_gauges.h"
#include "server/request_router.h"

namespace kiln::server {

int run_model_server(const ServeOptions& options) {
  KILN_CHECK(!options.models.empty(), "no model to serve: give --model-base-path or --model-config-file");
  // Every thread started from here on inherits the blocked signals, so they are
  // delivered only to sigwait below and shutdown happens in one orderly place.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ServerMetrics metrics;
  NvmlGauges nvml;
  ModelRepository repository(options.models, options.poll_seconds, &metrics);
  repository.start();

  ServingContext ctx;
  ctx.repository = &repository;
  ctx.metrics = &metrics;
  ctx.nvml = &nvml;

  HttpServerOptions http;
  http.address = options.address;
  http.port = options.port;
  http.threads = options.threads > 0 ? options.threads
                                     : std::max(4, static_cast<int>(std::thread::hardware_concurrency()));
  http.max_body_bytes = options.max_body_bytes;
  HttpServer server(http, [&ctx](HttpRequest request, std::function<void(HttpResponse)> respond) {
    route_request(ctx, std::move(request), std::move(respond));
  });
  server.start();
  std::fprintf(stderr, "kiln serve: listening on %s:%d (TF Serving REST /v1, KServe v2 /v2, metrics /metrics)\n",
               options.address.c_str(), server.port());
  std::fflush(stderr);

  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "kiln serve: %s received, finishing %lld in-flight requests\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", static_cast<long long>(server.in_flight()));
  std::fflush(stderr);
  server.shutdown(30);
  repository.stop();
  std::fprintf(stderr, "kiln serve: stopped\n");
  return 0;
}

}  // namespace kiln::server
