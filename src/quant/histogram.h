// A histogram of absolute activation values that grows its range as larger values
// arrive (merging neighbouring bins), so calibration needs a single pass over the data.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kiln::quant {

class AbsHistogram {
 public:
  explicit AbsHistogram(int bins = 2048) : counts_(static_cast<size_t>(bins), 0) {}

  void add(std::span<const float> values);

  int bins() const { return static_cast<int>(counts_.size()); }
  float range() const { return range_; }           // upper edge of the last bin
  float bin_width() const { return range_ / static_cast<float>(counts_.size()); }
  float max_abs() const { return max_abs_; }
  uint64_t total() const { return total_; }
  const std::vector<uint64_t>& counts() const { return counts_; }

 private:
  // Doubles the range until it covers `value`, merging pairs of bins.
  void grow_to(float value);

  std::vector<uint64_t> counts_;
  float range_ = 0;
  float max_abs_ = 0;
  uint64_t total_ = 0;
};

}  // namespace kiln::quant
