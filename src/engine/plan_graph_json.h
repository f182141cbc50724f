// The graph part of a plan header: IR graph <-> JSON, with tensors (constants and tensor
// attributes) placed in the weight blob. Used only by plan_format.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/graph.h"

namespace kiln::plan_detail {

// Assigns blob offsets (kPlanBlobAlignment-aligned) to tensors as the JSON is written.
class BlobLayout {
 public:
  uint64_t add(const Tensor& tensor);
  uint64_t size() const { return size_; }
  const std::vector<std::pair<uint64_t, Tensor>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<uint64_t, Tensor>> entries_;
  uint64_t size_ = 0;
};

nlohmann::json graph_to_json(const ir::Graph& graph, BlobLayout& blob);

// The blob as loaded: tensors wrap `data` and keep `owner` alive.
struct BlobView {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  std::shared_ptr<void> owner;
};

// Rebuilds and verifies the graph; errors are "<what>: header: graph.<path>: problem".
ir::Graph graph_from_json(const nlohmann::json& j, const BlobView& blob, const std::string& what);

// Floats as JSON numbers, with non-finite values as the strings "nan", "inf", "-inf"
// (JSON has no spelling for them, and clip bounds may be infinite).
nlohmann::json float_to_json(float f);

}  // namespace kiln::plan_detail
