#include "server/serving_context.h"

#include "server/metrics.h"
#include "server/model_repository.h"

namespace kiln::server {

namespace {

const char* outcome_of(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kOk: return "success";
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kUnavailable: return "rejected";
    case ErrorCode::kInternal: return "server_error";
    default: return "client_error";
  }
}

}  // namespace

void count_failed_request(const ServingContext& ctx, const std::string& model, const Status& status) {
  if (ctx.metrics) ctx.metrics->count_request(model, outcome_of(status));
}

void run_inference(const ServingContext& ctx, const VersionLookup& lookup, std::shared_ptr<ServedVersion> version,
                   std::vector<Tensor> inputs, Clock::time_point received,
                   std::function<void(const std::shared_ptr<ServedVersion>&, InferenceResult)> done) {
  ServerMetrics* metrics = ctx.metrics;
  const std::string model = lookup.model;
  auto completion = [metrics, model, version, received, done](InferenceResult r) {
    if (metrics) {
      metrics->count_request(model, outcome_of(r.status));
      if (r.status.ok()) {
        metrics->observe_latency(model, "queue", r.queue_seconds);
        metrics->observe_latency(model, "compute", r.compute_seconds);
        metrics->observe_latency(model, "total", std::chrono::duration<double>(Clock::now() - received).count());
      }
    }
    done(version, std::move(r));
  };
  Status s = version->batcher().submit(inputs, completion);
  if (s.code() == ErrorCode::kUnavailable && !lookup.version && lookup.label.empty()) {
    // The version was replaced after this request looked it up: run on its successor.
    Status find_status;
    auto next = ctx.repository->find(lookup.model, std::nullopt, "", &find_status);
    if (next && next != version && next->check_inputs(inputs).ok()) {
      run_inference(ctx, lookup, next, std::move(inputs), received, std::move(done));
      return;
    }
  }
  if (!s.ok()) {
    InferenceResult r;
    r.status = s;
    if (metrics) metrics->count_request(model, outcome_of(s));
    done(version, std::move(r));
  }
}

}  // namespace kiln::server
