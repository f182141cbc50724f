// A host tensor: dtype, static dims and a reference-counted, 64-byte aligned buffer.
// Copies share the buffer (cheap, like a shared_ptr); clone() makes a deep copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"

namespace kiln {

class Tensor {
 public:
  Tensor() = default;
  // Allocates a zero-filled tensor.
  Tensor(DType dtype, Dims dims);

  template <typename T>
  static Tensor from_vector(Dims dims, const std::vector<T>& values) {
    Tensor t(dtype_of<T>(), std::move(dims));
    KILN_CHECK(static_cast<size_t>(t.numel()) == values.size(),
               "tensor of shape {} needs {} values, got {}", dims_to_string(t.dims()), t.numel(),
               values.size());
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }
  template <typename T>
  static Tensor scalar(T value) { return from_vector<T>({}, {value}); }

  // Wraps memory owned elsewhere (e.g. a memory-mapped plan); `owner` keeps it alive.
  static Tensor wrap(DType dtype, Dims dims, void* data, std::shared_ptr<void> owner);

  DType dtype() const { return dtype_; }
  const Dims& dims() const { return dims_; }
  int64_t rank() const { return static_cast<int64_t>(dims_.size()); }
  int64_t dim(int64_t i) const { return dims_.at(normalize_axis(i, rank())); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  bool empty() const { return dtype_ == DType::kUndefined; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T> T* data() { check_type(dtype_of<T>()); return static_cast<T*>(data_); }
  template <typename T> const T* data() const { check_type(dtype_of<T>()); return static_cast<const T*>(data_); }
  // f16 / bf16 elements as raw 16-bit words.
  uint16_t* u16() { check_16bit(); return static_cast<uint16_t*>(data_); }
  const uint16_t* u16() const { check_16bit(); return static_cast<const uint16_t*>(data_); }
  template <typename T> std::span<T> span() { return {data<T>(), static_cast<size_t>(numel_)}; }
  template <typename T> std::span<const T> span() const { return {data<T>(), static_cast<size_t>(numel_)}; }

  // Same buffer, new dims with the same element count.
  Tensor reshaped(Dims dims) const;
  Tensor clone() const;
  // Converts element type (float types, integers and bool; saturating for narrowing ints).
  Tensor cast(DType to) const;
  // Values as doubles / int64, whatever the dtype: for small tensors (shapes, scalars).
  std::vector<double> to_doubles() const;
  std::vector<int64_t> to_int64s() const;
  std::string describe() const;  // "f32[1,3,224,224]"

 private:
  void check_type(DType requested) const;
  void check_16bit() const;

  DType dtype_ = DType::kUndefined;
  Dims dims_;
  int64_t numel_ = 0;
  std::shared_ptr<void> owner_;
  void* data_ = nullptr;
};

}  // namespace kiln
