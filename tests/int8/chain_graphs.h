// Convolution chains the INT8 and FP8 GPU tests run: conv + Relu layers on one input.
#pragma once

#include <array>
#include <vector>

#include "../cuda/cuda_engine_support.h"

namespace kiln::cuda_test {

struct ChainCase {
  const char* name;
  int64_t cin, size;
  std::vector<std::array<int64_t, 4>> convs;  // cout, k, stride, pad (each followed by Relu)
};

inline ir::Graph chain_graph(const ChainCase& c) {
  GraphBuilder b({1, c.cin, c.size, c.size});
  int y = b.input();
  int64_t cin = c.cin;
  for (const auto& [cout, k, stride, pad] : c.convs) {
    y = b.node("Relu", {b.conv(y, cin, cout, k, stride, pad)});
    cin = cout;
  }
  return b.finish({y});
}

}  // namespace kiln::cuda_test
