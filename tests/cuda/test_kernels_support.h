// Shared helpers of the CUDA kernel tests: device buffers, dtype round trips, seeded
// random data and the relative-L2 error used against the CPU loops that serve as oracle.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "core/dtype.h"

namespace kiln::cuda::test {

inline bool has_cuda_device() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

#define KILN_REQUIRE_GPU()                                          \
  do {                                                              \
    if (!::kiln::cuda::test::has_cuda_device()) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

// Relative L2 tolerances per storage type (the project's per-dtype table).
inline double tolerance(DType dtype) { return dtype == DType::kF32 ? 1e-5 : 1e-2; }

inline const std::vector<DType>& float_dtypes() {
  static const std::vector<DType> all = {DType::kF32, DType::kF16, DType::kBF16};
  return all;
}

// Rounds values to what `dtype` can hold, so the reference sees the kernel's inputs.
inline float round_to(DType dtype, float v) {
  if (dtype == DType::kF16) return half_to_float(float_to_half(v));
  if (dtype == DType::kBF16) return bfloat16_to_float(float_to_bfloat16(v));
  return v;
}
inline std::vector<float> round_to(DType dtype, std::vector<float> v) {
  for (float& x : v) x = round_to(dtype, x);
  return v;
}

inline std::vector<float> random_floats(size_t count, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    EXPECT_EQ(cudaMalloc(&ptr_, bytes ? bytes : 1), cudaSuccess);
    // Poison: every element a kernel should write must be written.
    cudaMemset(ptr_, 0xff, bytes ? bytes : 1);
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }
  template <typename T> T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Host floats -> device buffer in `dtype` (f32, f16, bf16).
inline std::unique_ptr<DeviceBuffer> upload(DType dtype, const std::vector<float>& values) {
  auto buf = std::make_unique<DeviceBuffer>(values.size() * dtype_size(dtype));
  std::vector<uint8_t> host(values.size() * dtype_size(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::kF32) {
      std::memcpy(&host[i * 4], &values[i], 4);
    } else {
      const uint16_t h = dtype == DType::kF16 ? float_to_half(values[i]) : float_to_bfloat16(values[i]);
      std::memcpy(&host[i * 2], &h, 2);
    }
  }
  EXPECT_EQ(cudaMemcpy(buf->get(), host.data(), host.size(), cudaMemcpyHostToDevice), cudaSuccess);
  return buf;
}

template <typename T> std::unique_ptr<DeviceBuffer> upload_raw(const std::vector<T>& values) {
  auto buf = std::make_unique<DeviceBuffer>(values.size() * sizeof(T));
  EXPECT_EQ(cudaMemcpy(buf->get(), values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  return buf;
}

template <typename T> std::vector<T> download_raw(const void* device, size_t count) {
  std::vector<T> out(count);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(out.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return out;
}

// Device buffer in `dtype` -> host floats (synchronizes first).
inline std::vector<float> download(DType dtype, const void* device, size_t count) {
  std::vector<float> out(count);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<uint8_t> host(count * dtype_size(dtype));
  EXPECT_EQ(cudaMemcpy(host.data(), device, host.size(), cudaMemcpyDeviceToHost), cudaSuccess);
  for (size_t i = 0; i < count; ++i) {
    if (dtype == DType::kF32) {
      std::memcpy(&out[i], &host[i * 4], 4);
    } else {
      uint16_t h;
      std::memcpy(&h, &host[i * 2], 2);
      out[i] = dtype == DType::kF16 ? half_to_float(h) : bfloat16_to_float(h);
    }
  }
  return out;
}

// ||actual - expected|| / ||expected||; NaN (or a size mismatch) gives infinity.
inline double rel_l2(const std::vector<float>& actual, const std::vector<double>& expected) {
  if (actual.size() != expected.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (!std::isfinite(actual[i])) return INFINITY;
    const double d = double(actual[i]) - expected[i];
    num += d * d;
    den += expected[i] * expected[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace kiln::cuda::test
