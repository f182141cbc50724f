#include "quant/histogram.h"

#include <algorithm>
#include <cmath>

namespace kiln::quant {

void AbsHistogram::grow_to(float value) {
  if (range_ == 0) {
    // First data: a power-of-two range just above the value, so later doublings stay exact.
    range_ = std::exp2(std::ceil(std::log2(std::max(value, 1e-30f))));
    if (range_ < value) range_ *= 2;
    return;
  }
  const size_t n = counts_.size();
  while (range_ < value) {
    for (size_t i = 0; i < n / 2; ++i) counts_[i] = counts_[2 * i] + counts_[2 * i + 1];
    std::fill(counts_.begin() + static_cast<std::ptrdiff_t>(n / 2), counts_.end(), 0);
    range_ *= 2;
  }
}

void AbsHistogram::add(std::span<const float> values) {
  float batch_max = 0;
  for (float v : values)
    if (std::isfinite(v)) batch_max = std::max(batch_max, std::fabs(v));
  if (batch_max == 0 && range_ == 0) {  // all zeros so far: count them in bin 0
    counts_[0] += values.size();
    total_ += values.size();
    return;
  }
  if (batch_max > range_) grow_to(batch_max);
  max_abs_ = std::max(max_abs_, batch_max);
  const float scale = static_cast<float>(counts_.size()) / range_;
  const size_t last = counts_.size() - 1;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    counts_[std::min(last, static_cast<size_t>(std::fabs(v) * scale))]++;
    ++total_;
  }
}

}  // namespace kiln::quant
