// Tensor shapes. A dimension of kDynamic is unknown until run time (the batch
// dimension of a model usually is); everything else is static.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

inline constexpr int64_t kDynamic = -1;

using Dims = std::vector<int64_t>;

// Number of elements; throws kiln::Error on a dynamic dimension or on overflow.
int64_t num_elements(const Dims& dims);
bool is_static(const Dims& dims);
// "[1,3,224,224]", with "N" for dynamic dimensions.
std::string dims_to_string(const Dims& dims);
// Normalizes a possibly negative axis into [0, rank); throws if out of range.
int64_t normalize_axis(int64_t axis, int64_t rank);
// Numpy-style broadcast of two shapes; throws kiln::Error if they do not broadcast.
Dims broadcast_dims(const Dims& a, const Dims& b);
// Row-major strides, in elements.
std::vector<int64_t> strides_of(const Dims& dims);

}  // namespace kiln
