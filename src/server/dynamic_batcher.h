// Dynamic batching for one model version.
//
// Requests (each a set of input tensors whose dimension 0 counts rows) wait in a bounded
// queue; engine instances (one worker thread per ExecutionContext, possibly on several
// GPUs) pull from it. A worker that finds the queue non-empty waits until the oldest
// request has waited `batch_timeout_micros`, the queued rows reach `max_batch_size` or a
// preferred batch size, then runs every compatible queued request as one batch. Because
// only idle instances pull, each batch goes to an instance with nothing to do: the least
// loaded one. Requests larger than `max_batch_size` are split and their outputs joined.
//
// Ownership: the batcher owns its instances (and through them keeps the engines alive).
// Completions run on worker threads and must not block for long.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"

namespace kiln::server {

struct BatcherOptions {
  int max_batch_size = 8;             // rows per batch
  int64_t batch_timeout_micros = 0;   // how long the oldest request may wait for company
  std::vector<int> preferred_batch_sizes;
  int max_queue_size = 1024;          // queued requests beyond this are refused (429)
  int64_t request_timeout_micros = 60'000'000;  // queued longer than this: 503
  // The engine's batch dimension is static: every batch is padded to max_batch_size rows.
  bool pad_to_max_batch = false;
};

struct InferenceResult {
  Status status;
  std::vector<Tensor> outputs;  // dimension 0 = the request's rows
  double queue_seconds = 0;
  double compute_seconds = 0;
};

using Completion = std::function<void(InferenceResult)>;

struct EngineInstance {
  std::shared_ptr<Engine> engine;
  std::unique_ptr<ExecutionContext> context;
};

class DynamicBatcher {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts one worker per instance. Throws kiln::Error on bad options (cold path).
  DynamicBatcher(BatcherOptions options, std::vector<EngineInstance> instances,
                 std::function<void(int64_t rows)> on_batch = nullptr);
  ~DynamicBatcher();
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Queues a request. On kResourceExhausted (queue full) or kUnavailable (stopping) the
  // completion is never called; otherwise it is called exactly once.
  Status submit(std::vector<Tensor> inputs, Completion done);
  // submit + wait; for callers that have a thread to spare (tests, warm-up).
  InferenceResult infer(std::vector<Tensor> inputs);

  // Stops accepting, runs everything already queued, joins the workers. Idempotent.
  void stop();
  size_t queue_depth() const;
  const BatcherOptions& options() const { return options_; }

 private:
  struct Pending {
    std::vector<Tensor> inputs;
    int64_t rows = 0;
    Clock::time_point enqueued;
    Completion done;
  };
  Status enqueue(std::vector<Tensor> inputs, Completion done);
  void worker(size_t index);
  bool batch_ready(int64_t rows) const;
  std::vector<Pending> take_batch(Clock::time_point now);
  void run_batch(EngineInstance& instance, std::vector<Pending>& batch);

  BatcherOptions options_;
  std::vector<EngineInstance> instances_;
  std::function<void(int64_t)> on_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::mutex forming_;  // one worker at a time gathers a batch
  std::deque<Pending> queue_;
  int64_t queued_rows_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace kiln::server
