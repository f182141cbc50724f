#include "engine/memory_planner.h"

#include <algorithm>
#include <numeric>

namespace kiln {

namespace {

size_t align_up(size_t n, size_t alignment) {
  const size_t rounded = (n + alignment - 1) & ~(alignment - 1);
  KILN_CHECK(rounded >= n, "buffer of {} bytes is too large to align", n);
  return rounded;
}

bool lifetimes_overlap(const BufferRequest& a, const BufferRequest& b) {
  return a.first_use <= b.last_use && b.first_use <= a.last_use;
}

struct Placed {
  size_t offset;
  size_t size;  // aligned
};

}  // namespace

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests, size_t alignment) {
  KILN_CHECK(alignment > 0 && (alignment & (alignment - 1)) == 0,
             "memory planner alignment must be a power of two, got {}", alignment);
  for (size_t i = 0; i < requests.size(); ++i)
    KILN_CHECK(requests[i].first_use <= requests[i].last_use,
               "buffer {} ends (node {}) before it starts (node {})", i, requests[i].last_use,
               requests[i].first_use);

  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first: big buffers fix the arena's shape, small ones fill the holes left.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (requests[a].size_bytes != requests[b].size_bytes) return requests[a].size_bytes > requests[b].size_bytes;
    return requests[a].first_use < requests[b].first_use;
  });

  MemoryPlan plan;
  plan.offsets.assign(requests.size(), 0);
  std::vector<bool> placed(requests.size(), false);
  std::vector<Placed> conflicts;
  for (size_t r : order) {
    const size_t size = align_up(requests[r].size_bytes, alignment);
    conflicts.clear();
    for (size_t other = 0; other < requests.size(); ++other)
      if (placed[other] && lifetimes_overlap(requests[r], requests[other]))
        conflicts.push_back({plan.offsets[other], align_up(requests[other].size_bytes, alignment)});
    std::sort(conflicts.begin(), conflicts.end(), [](const Placed& a, const Placed& b) { return a.offset < b.offset; });

    // Walk the gaps between live buffers; keep the tightest one that fits.
    size_t best_offset = 0, best_gap = SIZE_MAX, cursor = 0;
    bool found = false;
    for (const Placed& p : conflicts) {
      if (p.offset > cursor) {
        const size_t gap = p.offset - cursor;
        if (gap >= size && gap < best_gap) {
          best_gap = gap;
          best_offset = cursor;
          found = true;
        }
      }
      cursor = std::max(cursor, p.offset + p.size);
    }
    plan.offsets[r] = found ? best_offset : cursor;
    placed[r] = true;
    plan.arena_bytes = std::max(plan.arena_bytes, plan.offsets[r] + size);
  }
  return plan;
}

bool plan_is_valid(const std::vector<BufferRequest>& requests, const MemoryPlan& plan) {
  if (plan.offsets.size() != requests.size()) return false;
  for (size_t a = 0; a < requests.size(); ++a) {
    if (plan.offsets[a] + requests[a].size_bytes > plan.arena_bytes) return false;
    for (size_t b = a + 1; b < requests.size(); ++b) {
      if (!lifetimes_overlap(requests[a], requests[b])) continue;
      if (requests[a].size_bytes == 0 || requests[b].size_bytes == 0) continue;
      const size_t a_end = plan.offsets[a] + requests[a].size_bytes;
      const size_t b_end = plan.offsets[b] + requests[b].size_bytes;
      if (plan.offsets[a] < b_end && plan.offsets[b] < a_end) return false;
    }
  }
  return true;
}

std::vector<BufferRequest> activation_requests(const ir::Graph& graph, int64_t batch,
                                               std::vector<int>* value_ids) {
  const int end = static_cast<int>(graph.nodes.size());
  std::vector<int> first(graph.values.size(), -1), last(graph.values.size(), -1);
  for (int n = 0; n < end; ++n) {
    for (int o : graph.nodes[n].outputs) first[o] = last[o] = n;
    for (int i : graph.nodes[n].inputs)
      if (i != ir::kNoValue && first[i] >= 0) last[i] = n;
  }
  for (int o : graph.outputs) if (first[o] >= 0) last[o] = end;

  std::vector<BufferRequest> requests;
  value_ids->clear();
  for (size_t v = 0; v < graph.values.size(); ++v) {
    if (first[v] < 0) continue;
    const ir::Value& value = graph.values[v];
    KILN_CHECK(value.shape_known, "memory planning: value '{}' has no inferred shape", value.name);
    Dims dims = value.dims;
    for (int64_t& d : dims) if (d == kDynamic) d = batch;
    const int64_t count = num_elements(dims);
    requests.push_back({static_cast<size_t>(count) * dtype_size(value.dtype), first[v], last[v]});
    value_ids->push_back(static_cast<int>(v));
  }
  return requests;
}

}  // namespace kiln
