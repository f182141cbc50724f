// kiln plan files: a built engine on disk (graph + weights + backend data), loaded
// without re-running the frontend, the passes or the tactic search.
//
// Layout (all integers little-endian; docs/plan-format.md describes every field):
//
//   offset  size  field
//   0       8     magic "KILNPLAN"
//   8       4     u32 format version (kPlanFormatVersion; other versions are refused)
//   12      4     u32 flags (must be 0)
//   16      8     u64 header length H in bytes
//   24      8     u64 FNV-1a-64 of the H header bytes
//   32      H     JSON header (UTF-8): versions, backend, precision, device, graph, backend_data,
//                 blob {nbytes}, checksums {algorithm, blob}
//   ...           zero padding up to a multiple of 256
//   B       N     weight blob: every constant and tensor attribute, each 256-byte aligned,
//                 at offsets (relative to B) named in the header. The file ends at B + N.
//
// The header is JSON so a plan can be inspected with any tool; the blob is raw so that
// loading a plan memory-maps it and wraps the constants in place (no copy, no parse).
//
// Plans live in kiln_core (not kiln_runtime) because the backends, which sit below the
// runtime library, write them from Engine::save_plan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/precision.h"
#include "ir/graph.h"

namespace kiln {

inline constexpr char kPlanMagic[8] = {'K', 'I', 'L', 'N', 'P', 'L', 'A', 'N'};
inline constexpr uint32_t kPlanFormatVersion = 1;
inline constexpr size_t kPlanPrefixBytes = 32;
inline constexpr size_t kPlanBlobAlignment = 256;
// Written into plans for information only; a different kiln version still loads a plan.
inline constexpr const char* kKilnVersion = "0.1.0";

struct Plan {
  ir::Graph graph;            // optimized graph; constants hold the weights in final layout
  std::string backend;        // "cpu" | "cuda"
  Precision precision = Precision::kFP32;
  int max_batch_size = 1;
  nlohmann::json device = nlohmann::json::object();        // {} for cpu; GPU name, versions for cuda
  nlohmann::json backend_data = nlohmann::json::object();  // owned by the backend (tactics, ...)
  // Filled by load_plan for display; save_plan writes the current version and time.
  std::string kiln_version;
  std::string created;
};

// Writes the plan atomically (a temporary file renamed over `path`). Throws kiln::Error
// naming the path on I/O errors or on a graph that cannot be written.
void save_plan(const Plan& plan, const std::string& path);

// Memory-maps the file; constants wrap the mapping (which stays alive while any of them
// does). Every length, offset, checksum and the graph are validated; errors name the file:
//   "m.plan: truncated: header says 1234 bytes of weights, file has 1000"
Plan load_plan(const std::string& path);

// The same checks on bytes in memory (copied, so `data` may be freed afterwards);
// `what` names the source in error messages.
Plan parse_plan_bytes(const void* data, size_t size, const std::string& what);

// 64-bit FNV-1a, the checksum of plan headers and blobs.
uint64_t fnv1a64(const void* data, size_t size, uint64_t seed = 0xcbf29ce484222325ULL);

}  // namespace kiln
