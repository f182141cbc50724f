// What the protocol adapters share: the model repository, metrics, limits, and the
// inference call both protocols make (submit to the version's batcher, retry once when
// the version was swapped out between lookup and submit, record metrics).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/dynamic_batcher.h"
#include "server/http_message.h"

namespace kiln::server {

class ModelRepository;
class ServedVersion;
class ServerMetrics;
class NvmlGauges;

struct ServingContext {
  ModelRepository* repository = nullptr;
  ServerMetrics* metrics = nullptr;
  const NvmlGauges* nvml = nullptr;
};

using Responder = std::function<void(HttpResponse)>;
using Clock = std::chrono::steady_clock;

// Where a request's model version came from, so a retry can look it up again.
struct VersionLookup {
  std::string model;
  std::optional<int64_t> version;
  std::string label;
};

// Submits `inputs` and calls `done` exactly once (possibly on a batcher thread, possibly
// before returning) with the version that ran and the result. Records metrics.
void run_inference(const ServingContext& ctx, const VersionLookup& lookup, std::shared_ptr<ServedVersion> version,
                   std::vector<Tensor> inputs, Clock::time_point received,
                   std::function<void(const std::shared_ptr<ServedVersion>&, InferenceResult)> done);

// Counts a request that failed before reaching a batcher (bad input, unknown model).
void count_failed_request(const ServingContext& ctx, const std::string& model, const Status& status);

}  // namespace kiln::server
