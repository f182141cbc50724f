// Class labels and scores: what turns a logits vector into "Egyptian cat 0.71".
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kiln::image {

// One label per line (trailing '\r' and whitespace trimmed; blank lines kept as ""
// so line i stays class i). Throws kNotFound for a missing file, kInvalidArgument
// for a file with no labels.
std::vector<std::string> load_labels(const std::string& path);

// The k highest scores as (index, score), highest first; ties keep the lower index
// first. NaN scores rank below every number. k larger than the size returns all.
std::vector<std::pair<int, float>> top_k(std::span<const float> scores, int k);

// Numerically stable softmax (max subtracted before exp).
std::vector<float> softmax(std::span<const float> logits);

}  // namespace kiln::image
