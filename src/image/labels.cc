#include "image/labels.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "core/error.h"

namespace kiln::image {

std::vector<std::string> load_labels(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail_with(ErrorCode::kNotFound, "{}: cannot open labels file", path);
  std::vector<std::string> labels;
  std::string line;
  bool any = false;
  while (std::getline(in, line)) {
    const auto end = line.find_last_not_of(" \t\r");
    line = end == std::string::npos ? std::string() : line.substr(0, end + 1);
    any = any || !line.empty();
    labels.push_back(line);
  }
  if (!any) fail("{}: labels file is empty (expected one class name per line)", path);
  // A trailing newline is not an extra class.
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  return labels;
}

std::vector<std::pair<int, float>> top_k(std::span<const float> scores, int k) {
  std::vector<int> order(scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  const size_t n = std::min(order.size(), static_cast<size_t>(std::max(k, 0)));
  auto better = [&](int a, int b) {
    const float sa = scores[a], sb = scores[b];
    const bool na = std::isnan(sa), nb = std::isnan(sb);
    if (na != nb) return nb;  // a number beats NaN
    if (!na && sa != sb) return sa > sb;
    return a < b;
  };
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(), better);
  std::vector<std::pair<int, float>> result;
  result.reserve(n);
  for (size_t i = 0; i < n; ++i) result.emplace_back(order[i], scores[order[i]]);
  return result;
}

std::vector<float> softmax(std::span<const float> logits) {
  std::vector<float> out(logits.size());
  if (logits.empty()) return out;
  const float max = *std::max_element(logits.begin(), logits.end());
  double total = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    out[i] = std::exp(logits[i] - max);
    total += out[i];
  }
  for (float& v : out) v = static_cast<float>(v / total);
  return out;
}

}  // namespace kiln::image
