// Numpy-style broadcasting as row loops: the output is walked one innermost row at a
// time, and each input contributes an offset and a step (0 when it is broadcast along
// that row), so the inner loop stays a plain strided loop the compiler vectorizes.
#pragma once

#include <vector>

#include "core/shape.h"

namespace kiln::cpu {

// Strides of `in` aligned to the trailing dimensions of `out`, 0 where `in` is broadcast.
std::vector<int64_t> broadcast_strides(const Dims& in, const Dims& out);

// Calls row(out_offset, offsets_of_each_input, row_length, steps_of_each_input) for
// every innermost row of `out`. `strides` holds one broadcast_strides vector per input.
// Merges adjacent dimensions that every input walks contiguously (same-shape inputs
// collapse to one long row), so row loops do not pay per-row overhead needlessly.
void coalesce_dims(Dims& out, std::vector<std::vector<int64_t>>& strides);

template <typename RowFn>
void for_each_broadcast_row(Dims out, std::vector<std::vector<int64_t>> strides, RowFn&& row) {
  coalesce_dims(out, strides);
  const size_t rank = out.size();
  const size_t k = strides.size();
  std::vector<int64_t> offsets(k, 0), steps(k, 0);
  if (rank == 0) {
    row(int64_t{0}, offsets, int64_t{1}, steps);
    return;
  }
  const int64_t inner = out[rank - 1];
  for (size_t j = 0; j < k; ++j) steps[j] = strides[j][rank - 1];
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < rank; ++d) rows *= out[d];
  if (inner == 0 || rows == 0) return;
  std::vector<int64_t> index(rank, 0);
  for (int64_t r = 0; r < rows; ++r) {
    row(r * inner, offsets, inner, steps);
    // Advance the multi-index over the outer dimensions, updating input offsets.
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      if (++index[d] < out[d]) {
        for (size_t j = 0; j < k; ++j) offsets[j] += strides[j][d];
        break;
      }
      for (size_t j = 0; j < k; ++j) offsets[j] -= strides[j][d] * (out[d] - 1);
      index[d] = 0;
    }
  }
}

}  // namespace kiln::cpu
