// Device helpers of the burn-in test: deterministic pseudo-random fill and a bitwise
// comparison that counts differing 32-bit words.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace kiln::cuda::burn {

// Fills `count` f32 (is_half = false) or f16 values with uniform values in [-1, 1) from a
// counter-based hash of (seed, index), so every run and GPU gets the same matrices.
cudaError_t fill_uniform(void* data, size_t count, bool is_half, uint32_t seed, cudaStream_t stream);

// Adds to *mismatches (device counter) the number of 32-bit words where a and b differ.
cudaError_t count_mismatches(const uint32_t* a, const uint32_t* b, size_t words, unsigned long long* mismatches,
                             cudaStream_t stream);

}  // namespace kiln::cuda::burn
