// Small helpers every kernel uses to read its inputs and to compute in f32 on
// f16/bf16 tensors (the reference backend favours one clear f32 path over
// per-precision code: half types are widened on the way in and narrowed on the way out).
#pragma once

#include <optional>
#include <vector>

#include "core/tensor.h"

namespace kiln::cpu {

using Inputs = std::vector<const Tensor*>;

// Input i, throwing if it is absent.
const Tensor& required(const Inputs& inputs, size_t i);
// Input i, or nullptr when omitted (past the end or kNoValue).
const Tensor* optional_input(const Inputs& inputs, size_t i);
// An optional integer-list input (axes, pads, starts...) as int64 values.
std::optional<std::vector<int64_t>> optional_ints(const Inputs& inputs, size_t i);

bool is_half(DType t);
// f16/bf16 -> f32 copy; any other tensor is returned as is (shared buffer).
Tensor widen_half(const Tensor& t);
// Converts an f32 result back to `original` if that is f16/bf16; else returns t.
Tensor narrow_to(Tensor t, DType original);
// Throws unless t is f32, f64, f16 or bf16, naming `what`.
void require_float(const Tensor& t, const char* what);

}  // namespace kiln::cpu
