// Static memory planning for activations: every buffer an engine needs while running a
// batch gets an offset in one arena, chosen so that buffers alive at the same time never
// share bytes, while buffers with disjoint lifetimes reuse the same memory.
//
// The planner lives in kiln_core (not kiln_runtime) because backends, which sit below the
// runtime library, plan their device arenas with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ir/graph.h"

namespace kiln {

inline constexpr size_t kArenaAlignment = 256;

// A buffer alive from the node that writes it (first_use) to the last node that reads it
// (last_use), both inclusive, in node execution order.
struct BufferRequest {
  size_t size_bytes = 0;
  int first_use = 0;
  int last_use = 0;
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // one per request, multiples of the alignment
  size_t arena_bytes = 0;       // bytes the arena needs
};

// Greedy by size, largest first; each buffer goes into the smallest gap left between
// the already placed buffers whose lifetimes overlap its own (best fit), or after them.
// Throws kiln::Error on a request with last_use < first_use or a non power-of-two alignment.
MemoryPlan plan_memory(const std::vector<BufferRequest>& requests, size_t alignment = kArenaAlignment);

// True when no two requests with overlapping lifetimes overlap in the plan (for tests
// and for checking a plan read back from disk).
bool plan_is_valid(const std::vector<BufferRequest>& requests, const MemoryPlan& plan);

// The activations of a graph (values produced by nodes) as requests, with kDynamic
// dimensions replaced by `batch`. Graph outputs live until the end of the run.
// value_ids receives, per request, the value it stands for. Values whose shape is
// unknown throw kiln::Error naming the value.
std::vector<BufferRequest> activation_requests(const ir::Graph& graph, int64_t batch,
                                               std::vector<int>* value_ids);

}  // namespace kiln
