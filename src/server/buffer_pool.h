// Reuses large host buffers (request bodies, request tensors, batches). A fresh
// multi-megabyte allocation is an mmap whose every page faults on first touch and is
// unmapped again on free: profiling the KServe binary path showed the page faults and
// zero fills costing more than the copies themselves. Buffers of 1 MiB and more are
// kept, up to a byte budget, and handed out again already mapped.
#pragma once

#include <cstddef>
#include <memory>

namespace kiln::server {

// At least `bytes` of 64-byte aligned, uninitialized memory; freed (or returned to the
// pool) when the last owner goes. Throws kiln::Error (kResourceExhausted) when out of memory.
std::shared_ptr<void> acquire_host_buffer(size_t bytes);

// How many bytes of idle buffers the pool may keep (default 1 GiB); 0 disables pooling.
void set_host_buffer_pool_budget(size_t bytes);

}  // namespace kiln::server
