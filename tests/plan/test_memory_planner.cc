#include <gtest/gtest.h>

#include <random>

#include "runtime/memory_planner.h"

namespace kiln {
namespace {

// An independent overlap check: every pair of buffers alive at the same node must not
// share a byte.
void expect_no_conflicts(const std::vector<BufferRequest>& r, const MemoryPlan& p) {
  ASSERT_EQ(p.offsets.size(), r.size());
  for (size_t a = 0; a < r.size(); ++a) {
    EXPECT_EQ(p.offsets[a] % kArenaAlignment, 0u);
    EXPECT_LE(p.offsets[a] + r[a].size_bytes, p.arena_bytes);
    for (size_t b = 0; b < a; ++b) {
      const bool live_together = r[a].first_use <= r[b].last_use && r[b].first_use <= r[a].last_use;
      if (!live_together || r[a].size_bytes == 0 || r[b].size_bytes == 0) continue;
      const bool disjoint = p.offsets[a] + r[a].size_bytes <= p.offsets[b] || p.offsets[b] + r[b].size_bytes <= p.offsets[a];
      ASSERT_TRUE(disjoint) << "buffers " << a << " and " << b << " overlap";
    }
  }
}

TEST(MemoryPlanner, RandomLifetimesNeverOverlap) {
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> count(1, 120), start(0, 200), length(0, 30);
    std::uniform_int_distribution<size_t> size(1, 1 << 20);
    std::vector<BufferRequest> r(count(rng));
    size_t total = 0;
    for (auto& b : r) {
      b.first_use = start(rng);
      b.last_use = b.first_use + length(rng);
      b.size_bytes = size(rng);
      total += (b.size_bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
    }
    const MemoryPlan p = plan_memory(r);
    expect_no_conflicts(r, p);
    EXPECT_TRUE(plan_is_valid(r, p));
    EXPECT_LE(p.arena_bytes, total) << "seed " << seed;
  }
}

TEST(MemoryPlanner, ChainReusesMemory) {
  // Node i reads buffer i and writes buffer i+1: only two are ever alive together.
  std::vector<BufferRequest> same, shrinking;
  for (int i = 0; i < 50; ++i) {
    same.push_back({300000, i, i + 1});
    shrinking.push_back({size_t(60 - i) * 4096, i, i + 1});  // like a CNN's downsampling stages
  }
  const MemoryPlan a = plan_memory(same);
  expect_no_conflicts(same, a);
  EXPECT_EQ(a.arena_bytes, 2 * 300032u);  // two buffers, each rounded up to 256
  const MemoryPlan b = plan_memory(shrinking);
  expect_no_conflicts(shrinking, b);
  EXPECT_EQ(b.arena_bytes, (60u + 59u) * 4096);  // the two largest
}

TEST(MemoryPlanner, LaterBuffersFillGapsLeftByShortLivedOnes) {
  // X and Z live throughout; Y dies early and leaves a 4096-byte hole between them,
  // which V and then W fill instead of growing the arena.
  const std::vector<BufferRequest> r = {
      {4096, 0, 10},  // X -> 0
      {4096, 0, 1},   // Y -> 4096
      {4096, 0, 10},  // Z -> 8192
      {2048, 5, 6},   // V -> 4096 (the hole)
      {1000, 5, 6},   // W -> 6144 (what is left of it)
  };
  const MemoryPlan p = plan_memory(r);
  expect_no_conflicts(r, p);
  EXPECT_EQ(p.offsets, (std::vector<size_t>{0, 4096, 8192, 4096, 6144}));
  EXPECT_EQ(p.arena_bytes, 12288u);
}

TEST(MemoryPlanner, DisjointLifetimesShareOffsetZero) {
  const MemoryPlan p = plan_memory({{5000, 0, 1}, {3000, 2, 3}, {4000, 4, 5}});
  EXPECT_EQ(p.offsets, (std::vector<size_t>{0, 0, 0}));
  EXPECT_EQ(p.arena_bytes, 5120u);
}

TEST(MemoryPlanner, RejectsBackwardsLifetimes) {
  EXPECT_THROW(plan_memory({{10, 5, 2}}), Error);
  EXPECT_THROW(plan_memory({{10, 0, 2}}, 100), Error);  // not a power of two
}

TEST(MemoryPlanner, PlansAGraphsActivations) {
  ir::Graph g;
  const int x = g.add_value("x", DType::kF32, {kDynamic, 1024});
  g.inputs = {x};
  int prev = x;
  for (int i = 0; i < 10; ++i) {
    const int y = g.add_value("y" + std::to_string(i), DType::kF32, {kDynamic, 1024});
    g.add_node({"relu" + std::to_string(i), "Relu", "", {prev}, {y}, {}});
    prev = y;
  }
  g.outputs = {prev};
  std::vector<int> ids;
  const auto requests = activation_requests(g, 4, &ids);
  ASSERT_EQ(requests.size(), 10u);
  EXPECT_EQ(requests[0].size_bytes, 4u * 1024 * 4);
  EXPECT_EQ(requests.back().last_use, 10);  // the graph output lives to the end
  const MemoryPlan p = plan_memory(requests);
  EXPECT_TRUE(plan_is_valid(requests, p));
  EXPECT_EQ(p.arena_bytes, 2u * 4 * 1024 * 4);
}

}  // namespace
}  // namespace kiln
