#include "server/dynamic_batcher.h"

#include <algorithm>
#include <future>

#include "server/tensor_rows.h"

namespace kiln::server {

namespace {

double seconds_between(DynamicBatcher::Clock::time_point a, DynamicBatcher::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

bool rows_compatible(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same_row_shape(a[i], b[i])) return false;
  return true;
}

// Joins the outputs of a request that was split into several batches.
struct SplitRequest {
  std::mutex mu;
  size_t remaining;
  std::vector<InferenceResult> parts;
  Completion done;
};

void finish_split(SplitRequest& s) {
  InferenceResult joined;
  for (auto& p : s.parts) {
    if (!p.status.ok()) { joined.status = p.status; break; }
    joined.queue_seconds = std::max(joined.queue_seconds, p.queue_seconds);
    joined.compute_seconds += p.compute_seconds;
  }
  if (joined.status.ok()) {
    try {
      for (size_t o = 0; o < s.parts[0].outputs.size(); ++o) {
        std::vector<const Tensor*> pieces;
        for (auto& p : s.parts) pieces.push_back(&p.outputs.at(o));
        joined.outputs.push_back(concat_rows(pieces));
      }
    } catch (const Error& e) {
      joined.status = Status::from_error(e);
      joined.outputs.clear();
    }
  }
  s.done(std::move(joined));
}

}  // namespace

DynamicBatcher::DynamicBatcher(BatcherOptions options, std::vector<EngineInstance> instances,
                               std::function<void(int64_t)> on_batch)
    : options_(std::move(options)), instances_(std::move(instances)), on_batch_(std::move(on_batch)) {
  KILN_CHECK(options_.max_batch_size >= 1, "max_batch_size must be at least 1 (got {})", options_.max_batch_size);
  KILN_CHECK(options_.max_queue_size >= 1, "max_queue_size must be at least 1 (got {})", options_.max_queue_size);
  KILN_CHECK(options_.batch_timeout_micros >= 0, "batch_timeout_micros must not be negative");
  KILN_CHECK(!instances_.empty(), "a batcher needs at least one engine instance");
  for (int p : options_.preferred_batch_sizes)
    KILN_CHECK(p >= 1 && p <= options_.max_batch_size,
               "preferred batch size {} is outside 1..max_batch_size ({})", p, options_.max_batch_size);
  for (size_t i = 0; i < instances_.size(); ++i) workers_.emplace_back([this, i] { worker(i); });
}

DynamicBatcher::~DynamicBatcher() { stop(); }

void DynamicBatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
}

size_t DynamicBatcher::queue_depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

Status DynamicBatcher::submit(std::vector<Tensor> inputs, Completion done) {
  if (inputs.empty() || inputs[0].rank() == 0)
    return Status(ErrorCode::kInvalidArgument, "a batched request needs inputs with a batch dimension");
  const int64_t rows = inputs[0].dim(0);
  for (const Tensor& t : inputs)
    if (t.rank() == 0 || t.dim(0) != rows)
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("all inputs must have the same batch size ({} vs {})", rows, t.describe()));
  if (rows == 0) return Status(ErrorCode::kInvalidArgument, "the request has no rows (empty batch)");
  const int64_t max_rows = options_.max_batch_size;
  if (rows <= max_rows) return enqueue(std::move(inputs), std::move(done));

  // Too many rows for one batch: split, and join the parts' outputs in order.
  const size_t n_parts = static_cast<size_t>((rows + max_rows - 1) / max_rows);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status(ErrorCode::kUnavailable, "the model is shutting down");
    if (queue_.size() + n_parts > static_cast<size_t>(options_.max_queue_size))
      return Status(ErrorCode::kResourceExhausted,
                    fmt::format("queue full ({} requests waiting, limit {})", queue_.size(), options_.max_queue_size));
  }
  auto split = std::make_shared<SplitRequest>();
  split->remaining = n_parts;
  split->parts.resize(n_parts);
  split->done = std::move(done);
  for (size_t p = 0; p < n_parts; ++p) {
    const int64_t begin = static_cast<int64_t>(p) * max_rows;
    std::vector<Tensor> part;
    for (const Tensor& t : inputs) part.push_back(slice_rows(t, begin, std::min(max_rows, rows - begin)));
    Status s = enqueue(std::move(part), [split, p](InferenceResult r) {
      bool last;
      {
        std::lock_guard<std::mutex> lock(split->mu);
        split->parts[p] = std::move(r);
        last = --split->remaining == 0;
      }
      if (last) finish_split(*split);
    });
    if (!s.ok()) {  // raced with another client filling the queue: fail the missing parts
      for (size_t q = p; q < n_parts; ++q) {
        bool last;
        {
          std::lock_guard<std::mutex> lock(split->mu);
          split->parts[q].status = s;
          last = --split->remaining == 0;
        }
        if (last) finish_split(*split);
      }
      return Status();
    }
  }
  return Status();
}

Status DynamicBatcher::enqueue(std::vector<Tensor> inputs, Completion done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status(ErrorCode::kUnavailable, "the model is shutting down");
    if (queue_.size() >= static_cast<size_t>(options_.max_queue_size))
      return Status(ErrorCode::kResourceExhausted,
                    fmt::format("queue full ({} requests waiting, limit {})", queue_.size(), options_.max_queue_size));
    Pending p;
    p.rows = inputs[0].dim(0);
    p.inputs = std::move(inputs);
    p.enqueued = Clock::now();
    p.done = std::move(done);
    queued_rows_ += p.rows;
    queue_.push_back(std::move(p));
  }
  cv_.notify_all();
  return Status();
}

InferenceResult DynamicBatcher::infer(std::vector<Tensor> inputs) {
  auto promise = std::make_shared<std::promise<InferenceResult>>();
  auto future = promise->get_future();
  Status s = submit(std::move(inputs), [promise](InferenceResult r) { promise->set_value(std::move(r)); });
  if (!s.ok()) {
    InferenceResult r;
    r.status = s;
    return r;
  }
  return future.get();
}

bool DynamicBatcher::batch_ready(int64_t rows) const {
  if (rows >= options_.max_batch_size) return true;
  for (int p : options_.preferred_batch_sizes)
    if (rows == p) return true;
  if (!options_.preferred_batch_sizes.empty() &&
      rows >= *std::max_element(options_.preferred_batch_sizes.begin(), options_.preferred_batch_sizes.end()))
    return true;
  return false;
}

std::vector<DynamicBatcher::Pending> DynamicBatcher::take_batch(Clock::time_point now) {
  // Called with mu_ held. Requests that waited past their timeout are taken too, marked
  // with rows = -1, and answered with an error by run_batch outside the lock.
  std::vector<Pending> batch;
  int64_t rows = 0;
  int head = -1;  // index in `batch` of the first request that will run
  const auto timeout = std::chrono::microseconds(options_.request_timeout_micros);
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (options_.request_timeout_micros > 0 && now - it->enqueued > timeout) {
      batch.push_back(std::move(*it));
      batch.back().rows = -1;  // marks "expired" for run_batch
      queued_rows_ -= batch.back().inputs[0].dim(0);
      it = queue_.erase(it);
      continue;
    }
    if (head >= 0 && (!rows_compatible(batch[head].inputs, it->inputs) || rows + it->rows > options_.max_batch_size))
      break;  // keep FIFO order: the rest waits for the next batch
    if (head < 0) head = static_cast<int>(batch.size());
    rows += it->rows;
    queued_rows_ -= it->rows;
    batch.push_back(std::move(*it));
    it = queue_.erase(it);
    if (rows >= options_.max_batch_size) break;
  }
  return batch;
}

void DynamicBatcher::worker(size_t index) {
  EngineInstance& instance = instances_[index];
  for (;;) {
    std::vector<Pending> batch;
    {
      std::lock_guard<std::mutex> forming(forming_);
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      const auto deadline = queue_.front().enqueued + std::chrono::microseconds(options_.batch_timeout_micros);
      while (!stopping_ && !queue_.empty() && !batch_ready(queued_rows_) && Clock::now() < deadline)
        cv_.wait_until(lock, deadline);
      if (queue_.empty()) continue;
      batch = take_batch(Clock::now());
    }
    cv_.notify_all();
    run_batch(instance, batch);
  }
}

void DynamicBatcher::run_batch(EngineInstance& instance, std::vector<Pending>& batch) {
  const auto start = Clock::now();
  std::vector<Pending*> live;
  for (auto& p : batch) {
    if (p.rows >= 0) { live.push_back(&p); continue; }
    InferenceResult r;
    r.status = Status(ErrorCode::kUnavailable,
                      fmt::format("the request waited more than {} ms in the queue; the server is overloaded",
                                  options_.request_timeout_micros / 1000));
    r.queue_seconds = seconds_between(p.enqueued, start);
    p.done(std::move(r));
  }
  if (live.empty()) return;

  int64_t rows = 0;
  for (auto* p : live) rows += p->rows;
  const int64_t pad = options_.pad_to_max_batch ? options_.max_batch_size - rows : 0;
  InferenceResult shared;
  std::vector<Tensor> outputs;
  try {
    std::vector<Tensor> inputs;
    if (live.size() == 1 && pad == 0) {
      inputs = live[0]->inputs;
    } else {
      for (size_t i = 0; i < live[0]->inputs.size(); ++i) {
        std::vector<const Tensor*> parts;
        for (auto* p : live) parts.push_back(&p->inputs[i]);
        inputs.push_back(concat_rows(parts, pad));
      }
    }
    if (on_batch_) on_batch_(rows);
    const auto run_start = Clock::now();
    shared.status = instance.context->run(inputs, &outputs);
    shared.compute_seconds = seconds_between(run_start, Clock::now());
    if (shared.status.ok()) {
      for (const Tensor& o : outputs)
        if (o.rank() == 0 || o.dim(0) != rows + pad)
          shared.status = Status(ErrorCode::kInternal,
                                 fmt::format("the model's output {} does not have the batch's {} rows, so it cannot "
                                             "be split between requests",
                                             o.describe(), rows + pad));
    }
  } catch (const Error& e) {
    shared.status = Status::from_error(e);
  } catch (const std::exception& e) {
    shared.status = Status(ErrorCode::kInternal, e.what());
  }

  int64_t offset = 0;
  for (auto* p : live) {
    InferenceResult r;
    r.status = shared.status;
    r.compute_seconds = shared.compute_seconds;
    r.queue_seconds = seconds_between(p->enqueued, start);
    if (r.status.ok())
      for (const Tensor& o : outputs) r.outputs.push_back(slice_rows(o, offset, p->rows));
    offset += p->rows;
    p->done(std::move(r));
  }
}

}  // namespace kiln::server
