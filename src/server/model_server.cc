#include "server/model_server.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "server/http_server.h"
#include "server/metrics.h"
#include "server/model_repository.h"
#include "server/nvml_gauges.h"
#include "server/request_router.h"

namespace kiln::server {

namespace {

// Signals may land on any thread (libraries such as OpenBLAS start threads before main),
// so the handler only writes the signal number to a pipe the main thread waits on.
int g_signal_pipe[2] = {-1, -1};

void on_signal(int sig) {
  const char byte = static_cast<char>(sig);
  [[maybe_unused]] ssize_t n = write(g_signal_pipe[1], &byte, 1);
}

int wait_for_signal() {
  char byte = 0;
  while (read(g_signal_pipe[0], &byte, 1) != 1) {
  }
  return byte;
}

}  // namespace

int run_model_server(const ServeOptions& options) {
  KILN_CHECK(!options.models.empty(), "no model to serve: give --model-base-path or --model-config-file");
  KILN_CHECK(pipe(g_signal_pipe) == 0, "cannot create the signal pipe");
  struct sigaction action = {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
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

  const int sig = wait_for_signal();
  std::fprintf(stderr, "kiln serve: %s received, finishing %lld in-flight requests\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", static_cast<long long>(server.in_flight()));
  std::fflush(stderr);
  server.shutdown(30);
  repository.stop();
  std::fprintf(stderr, "kiln serve: stopped\n");
  return 0;
}

}  // namespace kiln::server
