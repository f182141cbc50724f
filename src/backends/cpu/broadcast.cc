#include "backends/cpu/broadcast.h"

namespace kiln::cpu {

std::vector<int64_t> broadcast_strides(const Dims& in, const Dims& out) {
  std::vector<int64_t> result(out.size(), 0);
  const std::vector<int64_t> own = strides_of(in);
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    result[lead + i] = in[i] == 1 && out[lead + i] != 1 ? 0 : own[i];
  return result;
}

}  // namespace kiln::cpu

namespace kiln::cpu {

void coalesce_dims(Dims& out, std::vector<std::vector<int64_t>>& strides) {
  if (out.size() < 2) return;
  Dims merged = {out[0]};
  std::vector<std::vector<int64_t>> merged_strides(strides.size());
  for (size_t j = 0; j < strides.size(); ++j) merged_strides[j] = {strides[j][0]};
  for (size_t d = 1; d < out.size(); ++d) {
    bool contiguous = true;
    for (size_t j = 0; j < strides.size(); ++j)
      contiguous = contiguous && merged_strides[j].back() == strides[j][d] * out[d];
    if (contiguous) {
      merged.back() *= out[d];
      for (size_t j = 0; j < strides.size(); ++j) merged_strides[j].back() = strides[j][d];
    } else {
      merged.push_back(out[d]);
      for (size_t j = 0; j < strides.size(); ++j) merged_strides[j].push_back(strides[j][d]);
    }
  }
  out = std::move(merged);
  strides = std::move(merged_strides);
}

}  // namespace kiln::cpu
