// Element types of tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln {

enum class DType : uint8_t {
  kUndefined = 0,
  kF32,
  kF16,
  kBF16,
  kI8,
  kU8,
  kI32,
  kI64,
  kBool,
  kF64,
  kFP8E4M3,  // reserved for FP8 engines: 1 sign, 4 exponent, 3 mantissa bits
};

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // "f32", "f16", ...
// Parses a name written by dtype_name; returns kUndefined if unknown.
DType dtype_from_name(std::string_view name);
bool is_float(DType t);

// IEEE half and bfloat16 conversions (round to nearest even), usable without a GPU.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
uint16_t float_to_bfloat16(float f);
float bfloat16_to_float(uint16_t b);

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kF32; }
template <> constexpr DType dtype_of<double>() { return DType::kF64; }
template <> constexpr DType dtype_of<int8_t>() { return DType::kI8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kU8; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kI32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kI64; }
template <> constexpr DType dtype_of<bool>() { return DType::kBool; }

}  // namespace kiln
