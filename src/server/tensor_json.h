// Writes tensor values as nested JSON lists (the response side of both protocols).
#pragma once

#include "core/tensor.h"
#include "server/json_writer.h"

namespace kiln::server {

// The rows [begin, begin + rows) of t as nested lists: one list per dimension after the first
// when `with_row_dim` is false (a single TF Serving prediction), else including it.
void write_nested(JsonWriter& w, const Tensor& t, int64_t begin, int64_t rows, bool with_row_dim);
// The whole tensor, nested by its dims (a rank-0 tensor writes one number).
void write_nested(JsonWriter& w, const Tensor& t);
// All elements as one flat list (KServe "data").
void write_flat(JsonWriter& w, const Tensor& t);

}  // namespace kiln::server
