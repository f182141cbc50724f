#include "backends/cpu/arg_reduce.h"

namespace kiln::cpu {

namespace {

std::vector<Tensor> arg_reduce(const ir::Node& n, const std::vector<const Tensor*>& in, bool want_max) {
  if (in.empty() || !in[0]) fail("missing input 0");
  const Tensor x = in[0]->dtype() == DType::kF64 ? in[0]->cast(DType::kF32) : *in[0];
  const std::vector<double> values = x.to_doubles();
  const int64_t rank = x.rank();
  if (rank == 0) fail("input must have rank >= 1");
  const int64_t axis = normalize_axis(n.attrs.get_int("axis", 0), rank);
  const bool keep = n.attrs.get_int("keepdims", 1) != 0;
  const bool last = n.attrs.get_int("select_last_index", 0) != 0;
  const int64_t len = x.dims()[axis];
  if (len == 0) fail("cannot reduce over an empty axis");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dims()[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= x.dims()[d];
  Dims out_dims = x.dims();
  if (keep) out_dims[axis] = 1;
  else out_dims.erase(out_dims.begin() + axis);
  Tensor y(DType::kI64, out_dims);
  int64_t* out = y.data<int64_t>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      double best_value = values[o * len * inner + i];
      for (int64_t k = 1; k < len; ++k) {
        const double v = values[(o * len + k) * inner + i];
        const bool better = want_max ? (v > best_value || (last && v == best_value))
                                     : (v < best_value || (last && v == best_value));
        if (better) { best = k; best_value = v; }
      }
      out[o * inner + i] = best;
    }
  }
  return {y};
}

}  // namespace

std::vector<Tensor> argmax(const ir::Node& n, const std::vector<const Tensor*>& in) { return arg_reduce(n, in, true); }
std::vector<Tensor> argmin(const ir::Node& n, const std::vector<const Tensor*>& in) { return arg_reduce(n, in, false); }

}  // namespace kiln::cpu
