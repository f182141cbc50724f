#include "server/tensor_json.h"

namespace kiln::server {

namespace {

void write_element(JsonWriter& w, const Tensor& t, int64_t i) {
  const void* p = t.raw();
  switch (t.dtype()) {
    case DType::kF32: w.number(static_cast<const float*>(p)[i]); break;
    case DType::kF64: w.number(static_cast<const double*>(p)[i]); break;
    case DType::kF16: w.number(half_to_float(static_cast<const uint16_t*>(p)[i])); break;
    case DType::kBF16: w.number(bfloat16_to_float(static_cast<const uint16_t*>(p)[i])); break;
    case DType::kI8: w.number(int64_t{static_cast<const int8_t*>(p)[i]}); break;
    case DType::kU8: w.number(int64_t{static_cast<const uint8_t*>(p)[i]}); break;
    case DType::kI32: w.number(int64_t{static_cast<const int32_t*>(p)[i]}); break;
    case DType::kI64: w.number(static_cast<const int64_t*>(p)[i]); break;
    case DType::kBool: w.boolean(static_cast<const uint8_t*>(p)[i] != 0); break;
    default: w.raw("null"); break;
  }
}

// Writes dims[d..] starting at element `offset`; returns the element count written.
void write_dims(JsonWriter& w, const Tensor& t, size_t d, int64_t offset, const std::vector<int64_t>& strides) {
  if (d == t.dims().size()) {
    write_element(w, t, offset);
    return;
  }
  w.raw("[");
  for (int64_t i = 0; i < t.dims()[d]; ++i) {
    if (i) w.raw(",");
    write_dims(w, t, d + 1, offset + i * strides[d], strides);
  }
  w.raw("]");
}

}  // namespace

void write_nested(JsonWriter& w, const Tensor& t, int64_t begin, int64_t rows, bool with_row_dim) {
  const std::vector<int64_t> strides = strides_of(t.dims());
  if (t.rank() == 0) {
    write_element(w, t, 0);
    return;
  }
  if (with_row_dim) w.raw("[");
  for (int64_t r = begin; r < begin + rows; ++r) {
    if (r > begin) w.raw(",");
    write_dims(w, t, 1, r * strides[0], strides);
  }
  if (with_row_dim) w.raw("]");
}

void write_nested(JsonWriter& w, const Tensor& t) {
  if (t.rank() == 0) write_element(w, t, 0);
  else write_nested(w, t, 0, t.dim(0), true);
}

void write_flat(JsonWriter& w, const Tensor& t) {
  w.raw("[");
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (i) w.raw(",");
    write_element(w, t, i);
  }
  w.raw("]");
}

}  // namespace kiln::server
