// The fast path for the commonest TF Serving :predict body: one float32 input sent as
// {"instances": [ <row>, ... ]} (or "inputs"), every row a nested list of JSON numbers.
// It scans the brackets directly and writes each number straight into the input tensor:
// no JSON DOM or on-demand iterator, no per-element bookkeeping, no intermediate vectors.
//
// It is exact, not approximate: it accepts only bodies whose meaning it can decide
// byte for byte (strict JSON number grammar, rows shaped as the model's input), giving
// the same tensor as the general path (numbers are rounded to the nearest double, then
// to float, as simdjson does). Anything else - other keys, strings, booleans, objects,
// b64 values, escapes in the key, numbers outside its exact range, malformed JSON - is
// declined, and the caller runs the general parser, which owns those error messages.
// A body whose rows do not have the model's row shape is refused here with a message
// naming the offending list, e.g. `instances[3][1]: expected 224 values, got 223`.
#pragma once

#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "server/image_input.h"

namespace kiln::server {

enum class FastPathOutcome {
  kParsed,    // *tensor holds the input [rows, ...row dims]; *is_columnar tells the key
  kRejected,  // *status explains why the rows do not fit the model's input shape
  kDeclined,  // not a body this path handles; parse it with the general parser
};

// `inputs` and `image` as for parse_tf_predict. Never throws except std::bad_alloc.
FastPathOutcome parse_numeric_predict_fast(std::string_view body, const std::vector<TensorInfo>& inputs,
                                           const ImageInputSpec& image, Tensor* tensor, bool* is_columnar,
                                           Status* status);

}  // namespace kiln::server
