#include "quant/calibrator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"

namespace kiln::quant {

CalibratorKind parse_calibrator(const std::string& name) {
  if (name == "entropy") return CalibratorKind::kEntropy;
  if (name == "percentile") return CalibratorKind::kPercentile;
  if (name == "minmax") return CalibratorKind::kMinMax;
  fail("unknown calibrator '{}' (expected entropy, percentile or minmax)", name);
}

const char* calibrator_name(CalibratorKind kind) {
  switch (kind) {
    case CalibratorKind::kEntropy: return "entropy";
    case CalibratorKind::kPercentile: return "percentile";
    case CalibratorKind::kMinMax: return "minmax";
  }
  return "?";
}

float minmax_threshold(const AbsHistogram& h) { return h.max_abs(); }

float percentile_threshold(const AbsHistogram& h, double percentile) {
  KILN_CHECK(percentile > 0 && percentile <= 100, "percentile {} is not in (0, 100]", percentile);
  if (h.total() == 0) return 0;
  const double wanted = h.total() * percentile / 100.0;
  uint64_t cumulative = 0;
  const auto& c = h.counts();
  for (size_t i = 0; i < c.size(); ++i) {
    cumulative += c[i];
    if (static_cast<double>(cumulative) >= wanted)
      return std::min(h.max_abs(), static_cast<float>(i + 1) * h.bin_width());
  }
  return h.max_abs();
}

namespace {

// KL(p || q) over bins where p > 0; q is smoothed so it is never zero where p is not.
double kl_divergence(const std::vector<double>& p, std::vector<double> q) {
  double p_sum = 0, q_sum = 0;
  for (double v : p) p_sum += v;
  for (double v : q) q_sum += v;
  if (p_sum == 0 || q_sum == 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) continue;
    const double pi = p[i] / p_sum;
    const double qi = std::max(q[i] / q_sum, 1e-12);
    kl += pi * std::log(pi / qi);
  }
  return kl;
}

}  // namespace

float entropy_threshold(const AbsHistogram& h, int levels) {
  // The first bin is left out of the search: it holds the exact zeros that ReLU produces in
  // bulk, which every threshold represents exactly. Left in, merging that spike with its
  // neighbours dominates the divergence and drags the threshold down to the first
  // candidate, clipping most real values.
  std::vector<uint64_t> counts = h.counts();
  counts[0] = 0;
  const int bins = h.bins();
  if (h.total() == 0 || h.max_abs() == 0) return 0;
  if (std::all_of(counts.begin(), counts.end(), [](uint64_t c) { return c == 0; })) return h.max_abs();
  // Only bins up to the last non-empty one matter.
  int used = bins;
  while (used > 1 && counts[used - 1] == 0) --used;
  if (used <= levels) return std::min(h.max_abs(), used * h.bin_width());

  double best_kl = std::numeric_limits<double>::infinity();
  int best_i = used;
  for (int i = levels; i <= used; ++i) {
    // Reference: the first i bins, with everything beyond folded into the last one.
    std::vector<double> p(counts.begin(), counts.begin() + i);
    for (int k = i; k < used; ++k) p[i - 1] += static_cast<double>(counts[k]);
    // Candidate: the same i bins (outliers not folded) merged into `levels` groups, each
    // group's mass spread evenly over the bins that are non-empty in the reference.
    std::vector<double> q(static_cast<size_t>(i), 0.0);
    const double group = static_cast<double>(i) / levels;
    for (int g = 0; g < levels; ++g) {
      const int start = static_cast<int>(std::floor(g * group));
      const int end = g == levels - 1 ? i : static_cast<int>(std::floor((g + 1) * group));
      double mass = 0;
      int nonempty = 0;
      for (int k = start; k < end; ++k) {
        mass += static_cast<double>(counts[k]);
        if (p[k] != 0) ++nonempty;
      }
      if (nonempty == 0) continue;
      for (int k = start; k < end; ++k)
        if (p[k] != 0) q[k] = mass / nonempty;
    }
    const double kl = kl_divergence(p, q);
    if (kl < best_kl) {
      best_kl = kl;
      best_i = i;
    }
  }
  return std::min(h.max_abs(), (static_cast<float>(best_i) + 0.5f) * h.bin_width());
}

float threshold_for(CalibratorKind kind, const AbsHistogram& h) {
  switch (kind) {
    case CalibratorKind::kEntropy: return entropy_threshold(h);
    case CalibratorKind::kPercentile: return percentile_threshold(h);
    case CalibratorKind::kMinMax: return minmax_threshold(h);
  }
  return minmax_threshold(h);
}

}  // namespace kiln::quant
