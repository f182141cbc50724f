// Shared state and helpers of the ONNX -> IR converters.
//
// The importer turns every NodeProto into a generic ir::Node (inputs resolved to value
// indices, attributes copied) and hands it to the converter registered for its op type.
// A converter rewrites older-opset forms into opset-17 semantics (attributes that became
// inputs, Softmax's flatten-to-2D axis) and emits one or more IR nodes.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <onnx/onnx_pb.h>

#include "ir/graph.h"

namespace kiln::onnx {

class ConvertContext {
 public:
  ConvertContext(ir::Graph& graph, std::string source, int64_t opset)
      : graph_(graph), source_(std::move(source)), opset_(opset) {}

  ir::Graph& graph() { return graph_; }
  const std::string& source() const { return source_; }
  int64_t opset() const { return opset_; }

  // Index of the value named `name`; creates a placeholder if nothing defined it yet
  // (nodes may appear out of order). The empty name is an omitted optional input.
  int value(const std::string& name);
  void bind(const std::string& name, int index) { by_name_[name] = index; }
  bool has(const std::string& name) const { return by_name_.count(name) != 0; }

  // Appends a node and, when all its inputs have known shapes, infers its outputs right
  // away so later converters can look at ranks (e.g. Softmax of an older opset).
  void emit(ir::Node node);
  // A fresh intermediate value for multi-node rewrites.
  int temp_value(const std::string& base);
  int add_i64_constant(const std::string& base, const std::vector<int64_t>& values);
  int add_f32_scalar(const std::string& base, float value);
  // The constant behind value `v`, or nullptr.
  const Tensor* constant(int v) const;

 private:
  ir::Graph& graph_;
  std::string source_;
  int64_t opset_;
  std::unordered_map<std::string, int> by_name_;
};

using Converter = void (*)(ConvertContext& cx, ir::Node node);

// Op type -> converter, for the default ONNX domain.
const std::map<std::string, Converter>& converters();

// Converter families (convert_*.cc).
void convert_passthrough(ConvertContext& cx, ir::Node node);
void convert_conv(ConvertContext& cx, ir::Node node);
void convert_pool(ConvertContext& cx, ir::Node node);
void convert_batchnorm(ConvertContext& cx, ir::Node node);
void convert_clip(ConvertContext& cx, ir::Node node);
void convert_dropout(ConvertContext& cx, ir::Node node);
void convert_gemm(ConvertContext& cx, ir::Node node);
void convert_softmax(ConvertContext& cx, ir::Node node);
void convert_constant(ConvertContext& cx, ir::Node node);
void convert_squeeze(ConvertContext& cx, ir::Node node);
void convert_split(ConvertContext& cx, ir::Node node);
void convert_slice(ConvertContext& cx, ir::Node node);
void convert_pad(ConvertContext& cx, ir::Node node);

// A scalar constant of `dtype` (f32 when the dtype is not known yet).
int add_scalar_like(ConvertContext& cx, const std::string& base, double value, DType dtype);

// ONNX attribute -> IR attribute value; throws on types kiln does not use (graphs).
ir::AttributeValue convert_attribute(const ::onnx::AttributeProto& attr, const std::string& base_dir);

}  // namespace kiln::onnx
