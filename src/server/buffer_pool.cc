#include "server/buffer_pool.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace kiln::server {

namespace {

constexpr size_t kPooledMin = size_t{1} << 20;
// Sizes are rounded up to this step so that bodies differing by a few header bytes, and
// batches of nearby row counts, share buffers.
constexpr size_t kStep = size_t{1} << 20;

class Pool {
 public:
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(bytes);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    idle_ -= bytes;
    return p;
  }
  void give(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (idle_ + bytes <= budget_) {
        free_[bytes].push_back(p);
        idle_ += bytes;
        return;
      }
    }
    std::free(p);
  }
  void set_budget(size_t bytes) {
    std::vector<void*> drop;
    {
      std::lock_guard<std::mutex> lock(mu_);
      budget_ = bytes;
      if (idle_ <= budget_) return;
      for (auto& [size, list] : free_)
        for (void* p : list) drop.push_back(p);
      free_.clear();
      idle_ = 0;
    }
    for (void* p : drop) std::free(p);
  }

 private:
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t idle_ = 0;
  size_t budget_ = size_t{1} << 30;
};

// Never destroyed: buffers may be released by threads still running at exit.
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

void* allocate(size_t bytes) {
  void* p = std::aligned_alloc(64, bytes);
  if (!p) fail_with(ErrorCode::kResourceExhausted, "out of memory allocating {} bytes", bytes);
  return p;
}

}  // namespace

std::shared_ptr<void> acquire_host_buffer(size_t bytes) {
  if (bytes < kPooledMin) {
    void* p = allocate((std::max<size_t>(bytes, 1) + 63) / 64 * 64);
    return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  }
  const size_t rounded = (bytes + kStep - 1) / kStep * kStep;
  void* p = pool().take(rounded);
  if (!p) p = allocate(rounded);
  return std::shared_ptr<void>(p, [rounded](void* q) { pool().give(q, rounded); });
}

void set_host_buffer_pool_budget(size_t bytes) { pool().set_budget(bytes); }

}  // namespace kiln::server
