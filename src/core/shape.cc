#include "core/shape.h"

#include "core/error.h"

namespace kiln {

int64_t num_elements(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) fail("shape {} has a dynamic dimension where a static one is needed", dims_to_string(dims));
    if (d != 0 && n > INT64_MAX / d) fail("shape {} has too many elements", dims_to_string(dims));
    n *= d;
  }
  return n;
}

bool is_static(const Dims& dims) {
  for (int64_t d : dims) if (d < 0) return false;
  return true;
}

std::string dims_to_string(const Dims& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    s += dims[i] < 0 ? std::string("N") : std::to_string(dims[i]);
  }
  return s + "]";
}

int64_t normalize_axis(int64_t axis, int64_t rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail("axis {} is out of range for rank {}", axis, rank);
  return a;
}

Dims broadcast_dims(const Dims& a, const Dims& b) {
  const size_t rank = std::max(a.size(), b.size());
  Dims out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else if (da < 0 || db < 0) out[i] = kDynamic;
    else fail("shapes {} and {} do not broadcast", dims_to_string(a), dims_to_string(b));
  }
  return out;
}

std::vector<int64_t> strides_of(const Dims& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (int64_t i = static_cast<int64_t>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

}  // namespace kiln
