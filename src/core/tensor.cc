#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>

namespace kiln {

namespace {

std::shared_ptr<void> allocate_aligned(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) fail_with(ErrorCode::kResourceExhausted, "out of memory allocating {} bytes", bytes);
  std::memset(p, 0, rounded);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

double load_as_double(DType t, const void* data, int64_t i) {
  switch (t) {
    case DType::kF32: return static_cast<const float*>(data)[i];
    case DType::kF64: return static_cast<const double*>(data)[i];
    case DType::kF16: return half_to_float(static_cast<const uint16_t*>(data)[i]);
    case DType::kBF16: return bfloat16_to_float(static_cast<const uint16_t*>(data)[i]);
    case DType::kI8: return static_cast<const int8_t*>(data)[i];
    case DType::kU8: return static_cast<const uint8_t*>(data)[i];
    case DType::kBool: return static_cast<const uint8_t*>(data)[i] ? 1.0 : 0.0;
    case DType::kI32: return static_cast<const int32_t*>(data)[i];
    case DType::kI64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    default: fail("cannot read elements of dtype {}", dtype_name(t));
  }
}

template <typename T>
T saturate(double v) {
  if (v != v) return T(0);
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

void store_from_double(DType t, void* data, int64_t i, double v) {
  switch (t) {
    case DType::kF32: static_cast<float*>(data)[i] = static_cast<float>(v); break;
    case DType::kF64: static_cast<double*>(data)[i] = v; break;
    case DType::kF16: static_cast<uint16_t*>(data)[i] = float_to_half(static_cast<float>(v)); break;
    case DType::kBF16: static_cast<uint16_t*>(data)[i] = float_to_bfloat16(static_cast<float>(v)); break;
    case DType::kI8: static_cast<int8_t*>(data)[i] = saturate<int8_t>(v); break;
    case DType::kU8: static_cast<uint8_t*>(data)[i] = saturate<uint8_t>(v); break;
    case DType::kBool: static_cast<uint8_t*>(data)[i] = v != 0.0; break;
    case DType::kI32: static_cast<int32_t*>(data)[i] = saturate<int32_t>(v); break;
    case DType::kI64: static_cast<int64_t*>(data)[i] = saturate<int64_t>(v); break;
    default: fail("cannot write elements of dtype {}", dtype_name(t));
  }
}

}  // namespace

Tensor::Tensor(DType dtype, Dims dims) : dtype_(dtype), dims_(std::move(dims)) {
  KILN_CHECK(dtype != DType::kUndefined, "cannot allocate a tensor of undefined dtype");
  numel_ = num_elements(dims_);
  owner_ = allocate_aligned(static_cast<size_t>(numel_) * dtype_size(dtype_));
  data_ = owner_.get();
}

Tensor Tensor::wrap(DType dtype, Dims dims, void* data, std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  t.numel_ = num_elements(t.dims_);
  t.owner_ = std::move(owner);
  t.data_ = data;
  return t;
}

Tensor Tensor::reshaped(Dims dims) const {
  KILN_CHECK(num_elements(dims) == numel_, "cannot reshape {} to {}", describe(), dims_to_string(dims));
  Tensor t = *this;
  t.dims_ = std::move(dims);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, dims_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

Tensor Tensor::cast(DType to) const {
  if (to == dtype_) return clone();
  Tensor t(to, dims_);
  for (int64_t i = 0; i < numel_; ++i) {
    if (dtype_ == DType::kI64 && to == DType::kI32) {  // exact path for large ints
      t.data<int32_t>()[i] = saturate<int32_t>(static_cast<double>(data<int64_t>()[i]));
    } else if (to == DType::kI64 && dtype_ == DType::kI64) {
      t.data<int64_t>()[i] = data<int64_t>()[i];
    } else {
      store_from_double(to, t.data_, i, load_as_double(dtype_, data_, i));
    }
  }
  return t;
}

std::vector<double> Tensor::to_doubles() const {
  std::vector<double> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) v[i] = load_as_double(dtype_, data_, i);
  return v;
}

std::vector<int64_t> Tensor::to_int64s() const {
  std::vector<int64_t> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) {
    if (dtype_ == DType::kI64) v[i] = static_cast<const int64_t*>(data_)[i];
    else if (dtype_ == DType::kI32) v[i] = static_cast<const int32_t*>(data_)[i];
    else v[i] = static_cast<int64_t>(load_as_double(dtype_, data_, i));
  }
  return v;
}

std::string Tensor::describe() const {
  return std::string(dtype_name(dtype_)) + dims_to_string(dims_);
}

void Tensor::check_type(DType requested) const {
  // bool is stored as one byte per element; allow reading it as uint8_t.
  if (requested == dtype_) return;
  if (requested == DType::kU8 && (dtype_ == DType::kBool || dtype_ == DType::kFP8E4M3)) return;
  fail("tensor is {} but was read as {}", describe(), dtype_name(requested));
}

void Tensor::check_16bit() const {
  if (dtype_ != DType::kF16 && dtype_ != DType::kBF16) fail("tensor is {}, not f16/bf16", describe());
}

}  // namespace kiln
