// Runs a generic lambda with a value of the C++ type matching a runtime DType, so a
// kernel is written once as a template and instantiated for each supported type.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/error.h"

namespace kiln::cpu {

// Types every arithmetic kernel supports (f16/bf16 are widened to f32 before dispatch).
template <typename F>
decltype(auto) dispatch_numeric(DType t, const char* what, F&& f) {
  switch (t) {
    case DType::kF32: return f(float{});
    case DType::kF64: return f(double{});
    case DType::kI32: return f(int32_t{});
    case DType::kI64: return f(int64_t{});
    case DType::kI8: return f(int8_t{});
    case DType::kU8: return f(uint8_t{});
    default: fail_with(ErrorCode::kUnimplemented, "{} does not support dtype {}", what, dtype_name(t));
  }
}

template <typename F>
decltype(auto) dispatch_float(DType t, const char* what, F&& f) {
  switch (t) {
    case DType::kF32: return f(float{});
    case DType::kF64: return f(double{});
    default: fail_with(ErrorCode::kUnimplemented, "{} does not support dtype {}", what, dtype_name(t));
  }
}

}  // namespace kiln::cpu
