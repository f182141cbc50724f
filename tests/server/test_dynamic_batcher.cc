// DynamicBatcher with a fake engine whose output identifies the batch it ran in:
// y[r] = x[r] * 2 and a second output holding the batch's row count, so tests can see
// both that each request gets its own rows back and how requests were grouped.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <random>
#include <thread>

#include "server/dynamic_batcher.h"

namespace kiln::server {
namespace {

class FakeContext : public ExecutionContext {
 public:
  FakeContext(std::atomic<int>* runs, int sleep_ms) : runs_(runs), sleep_ms_(sleep_ms) {}
  Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) override {
    ++*runs_;
    if (sleep_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    const Tensor& x = inputs.at(0);
    Tensor y(DType::kF32, x.dims());
    for (int64_t i = 0; i < x.numel(); ++i) y.data<float>()[i] = x.data<float>()[i] * 2;
    Tensor rows(DType::kI64, {x.dim(0)});
    for (auto& v : rows.span<int64_t>()) v = x.dim(0);
    *outputs = {y, rows};
    return {};
  }

 private:
  std::atomic<int>* runs_;
  int sleep_ms_;
};

std::vector<EngineInstance> fake_instances(int n, std::atomic<int>* runs, int sleep_ms = 0) {
  std::vector<EngineInstance> out;
  for (int i = 0; i < n; ++i) out.push_back({nullptr, std::make_unique<FakeContext>(runs, sleep_ms)});
  return out;
}

Tensor rows_of(std::vector<float> values, int64_t cols) {
  return Tensor::from_vector<float>({static_cast<int64_t>(values.size()) / cols, cols}, values);
}

TEST(DynamicBatcher, ConcurrentRequestsAreBatchedAndGetTheirOwnRows) {
  std::atomic<int> runs{0};
  BatcherOptions o;
  o.max_batch_size = 16;
  o.batch_timeout_micros = 20000;
  DynamicBatcher b(o, fake_instances(1, &runs));
  constexpr int kRequests = 16;
  std::vector<std::future<InferenceResult>> results;
  std::mt19937 rng(11);
  std::vector<float> sent;
  for (int i = 0; i < kRequests; ++i) {
    const float v = static_cast<float>(rng() % 1000) + 0.5f;
    sent.push_back(v);
    results.push_back(std::async(std::launch::async, [&b, v] { return b.infer({rows_of({v, -v}, 2)}); }));
  }
  int64_t max_batch_seen = 0;
  for (int i = 0; i < kRequests; ++i) {
    InferenceResult r = results[i].get();
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    ASSERT_EQ(r.outputs[0].dims(), (Dims{1, 2}));
    EXPECT_EQ(r.outputs[0].data<float>()[0], sent[i] * 2);
    EXPECT_EQ(r.outputs[0].data<float>()[1], -sent[i] * 2);
    max_batch_seen = std::max(max_batch_seen, r.outputs[1].data<int64_t>()[0]);
  }
  EXPECT_LT(runs.load(), kRequests);  // some requests shared a batch
  EXPECT_GT(max_batch_seen, 1);
}

TEST(DynamicBatcher, LargeRequestsAreSplitAndJoinedInOrder) {
  std::atomic<int> runs{0};
  BatcherOptions o;
  o.max_batch_size = 4;
  DynamicBatcher b(o, fake_instances(2, &runs));
  std::vector<float> v;
  for (int i = 0; i < 10; ++i) v.push_back(static_cast<float>(i) + 0.25f);
  InferenceResult r = b.infer({rows_of(v, 1)});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r.outputs[0].dims(), (Dims{10, 1}));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r.outputs[0].data<float>()[i], v[i] * 2);
  EXPECT_EQ(runs.load(), 3);  // 4 + 4 + 2
}

TEST(DynamicBatcher, StaticBatchIsPadded) {
  std::atomic<int> runs{0};
  BatcherOptions o;
  o.max_batch_size = 4;
  o.pad_to_max_batch = true;
  DynamicBatcher b(o, fake_instances(1, &runs));
  InferenceResult r = b.infer({rows_of({3, 4}, 2)});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].dims(), (Dims{1, 2}));
  EXPECT_EQ(r.outputs[1].data<int64_t>()[0], 4);  // the engine saw 4 rows
  EXPECT_EQ(r.outputs[0].data<float>()[1], 8);
}

TEST(DynamicBatcher, FullQueueRefusesWithResourceExhausted) {
  std::atomic<int> runs{0};
  BatcherOptions o;
  o.max_batch_size = 1;
  o.max_queue_size = 2;
  DynamicBatcher b(o, fake_instances(1, &runs, /*sleep_ms=*/50));
  std::atomic<int> done{0};
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    Status s = b.submit({rows_of({1, 2}, 2)}, [&](InferenceResult r) {
      EXPECT_TRUE(r.status.ok());
      ++done;
    });
    if (s.code() == ErrorCode::kResourceExhausted) ++refused;
    else EXPECT_TRUE(s.ok());
  }
  EXPECT_GE(refused, 6);
  b.stop();
  EXPECT_EQ(done.load() + refused, 10);
}

TEST(DynamicBatcher, RequestsQueuedTooLongTimeOut) {
  std::atomic<int> runs{0};
  BatcherOptions o;
  o.max_batch_size = 1;
  o.request_timeout_micros = 20000;
  DynamicBatcher b(o, fake_instances(1, &runs, /*sleep_ms=*/60));
  auto first = std::async(std::launch::async, [&] { return b.infer({rows_of({1}, 1)}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  InferenceResult late = b.infer({rows_of({2}, 1)});
  EXPECT_TRUE(first.get().status.ok());
  EXPECT_EQ(late.status.code(), ErrorCode::kUnavailable);
  EXPECT_NE(late.status.message().find("waited"), std::string::npos);
}

TEST(DynamicBatcher, StopFinishesQueuedWorkThenRefuses) {
  std::atomic<int> runs{0};
  BatcherOptions o;
  o.max_batch_size = 2;
  DynamicBatcher b(o, fake_instances(1, &runs, 5));
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(b.submit({rows_of({1}, 1)}, [&](InferenceResult r) { ok += r.status.ok(); }).ok());
  b.stop();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(b.submit({rows_of({1}, 1)}, [](InferenceResult) {}).code(), ErrorCode::kUnavailable);
}

TEST(DynamicBatcher, MismatchedRowShapesRunInSeparateBatches) {
  std::atomic<int> runs{0};
  BatcherOptions o;
  o.max_batch_size = 8;
  o.batch_timeout_micros = 20000;
  DynamicBatcher b(o, fake_instances(1, &runs));
  auto a = std::async(std::launch::async, [&] { return b.infer({rows_of({1, 2}, 2)}); });
  auto c = std::async(std::launch::async, [&] { return b.infer({rows_of({1, 2, 3}, 3)}); });
  InferenceResult ra = a.get(), rc = c.get();
  ASSERT_TRUE(ra.status.ok());
  ASSERT_TRUE(rc.status.ok());
  EXPECT_EQ(ra.outputs[0].dims(), (Dims{1, 2}));
  EXPECT_EQ(rc.outputs[0].dims(), (Dims{1, 3}));
  EXPECT_EQ(rc.outputs[0].data<float>()[2], 6);
}

TEST(DynamicBatcher, BadOptionsThrow) {
  std::atomic<int> runs{0};
  BatcherOptions o;
  o.max_batch_size = 0;
  EXPECT_THROW(DynamicBatcher(o, fake_instances(1, &runs)), Error);
  o.max_batch_size = 4;
  o.preferred_batch_sizes = {8};
  EXPECT_THROW(DynamicBatcher(o, fake_instances(1, &runs)), Error);
}

}  // namespace
}  // namespace kiln::server
