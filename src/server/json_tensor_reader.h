// Reads a tensor written as nested JSON lists of numbers (TF Serving "instances"/"inputs",
// KServe "data") straight into one contiguous typed buffer: one pass over the simdjson
// on-demand document, the shape discovered from the nesting and checked for raggedness,
// no per-element allocation. Integer dtypes take only integers within their range; an
// error names the element's position ("256 at [0,5,7,2] is out of range for uint8").
#pragma once

#include <simdjson.h>

#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::server {

class JsonTensorReader {
 public:
  // `what` names the tensor in error messages ("input \"x\"").
  JsonTensorReader(DType dtype, std::string what);

  // Reads one row (a scalar or a nested list); all rows must have the same shape.
  Status read_row(simdjson::ondemand::value value);
  // Reads a whole tensor (the batch dimension included in the nesting).
  Status read_whole(simdjson::ondemand::value value);

  int64_t rows() const { return rows_; }
  // The dims of the data read: [rows] + row shape, or the nested shape for read_whole.
  Dims dims() const;
  int64_t size() const { return count_; }
  // The elements as a tensor of `dtype` with the given dims (element count must match).
  Tensor finish(Dims dims) const;
  Tensor finish() const { return finish(dims()); }

 private:
  enum class Storage { kFloat, kDouble, kInt };
  Status read_value(simdjson::ondemand::value value, size_t depth);
  Status append_scalar(simdjson::ondemand::value value, simdjson::ondemand::json_type type);
  Status error(const std::string& message) const;
  std::string position() const;  // the index of the element being read, "[row,i,j]"

  DType dtype_;
  std::string what_;
  Storage storage_;
  std::vector<float> floats_;
  std::vector<double> doubles_;
  std::vector<int64_t> ints_;
  int64_t count_ = 0;
  std::vector<int64_t> shape_;  // per depth; -1 until the first list at that depth closes
  std::vector<int64_t> index_;  // per depth: the position within the list being read
  int leaf_depth_ = -1;
  int64_t rows_ = 0;
  bool whole_ = false;
};

}  // namespace kiln::server
