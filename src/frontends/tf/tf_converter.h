// Conversion of one TensorFlow graph into kiln IR (ONNX ops, opset-17 semantics).
//
// Layout: TensorFlow image models are usually NHWC; kiln's IR is NCHW. Every converted
// tensor carries a flag saying whether its IR value holds the NCHW transpose of a 4-D
// TensorFlow NHWC tensor. NHWC convolutions produce such values, layout-agnostic ops
// (activations, bias, batch norm, per-channel arithmetic) pass them through, and ops
// whose meaning depends on the axis order either remap their axes or get the value back
// in TensorFlow order through a Transpose. So an NHWC ResNet becomes an NCHW graph with
// transposes only at its boundary.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "frontends/tf/checkpoint_reader.h"
#include "ir/graph.h"
#include "tensorflow/graph.pb.h"

namespace kiln::tf {

struct TfValue {
  int value = ir::kNoValue;
  bool nchw = false;  // the IR value is the NCHW form of a TensorFlow NHWC tensor
};

class TfConverter {
 public:
  TfConverter(const tensorflow::GraphDef& graph_def, const CheckpointReader* checkpoint, std::string source);

  // Converts the nodes needed for `outputs` ("node:index" names). Graph inputs are the
  // Placeholders reached; `input_names` / `output_names` rename them (signature keys).
  ir::Graph convert(const std::vector<std::string>& outputs, const std::vector<std::string>& output_names,
                    const std::vector<std::pair<std::string, std::string>>& inputs_to_rename);

  // --- used by the per-op converters --------------------------------------------------
  const tensorflow::NodeDef& node() const { return *current_; }
  ir::Graph& graph() { return graph_; }
  // The i-th data input of the current node, as converted.
  TfValue input(int i);
  int num_inputs() const;
  // The i-th input as a constant (after folding constants is not possible here: it must
  // be a Const node, possibly through Identity); throws naming the op otherwise.
  Tensor constant_input(int i);
  // The value in TensorFlow's axis order / in NCHW (inserting a Transpose when needed).
  int as_tf(TfValue v);
  int as_nchw(TfValue v);
  int constant(const std::string& name, Tensor t);
  // Adds a node with the current node's name (plus a suffix); returns its outputs.
  std::vector<int> add(const std::string& op, std::vector<int> inputs, ir::Attributes attrs = {},
                       int num_outputs = 1, const std::string& suffix = "");
  // Records the converted i-th output of the current node.
  void set_output(int i, TfValue v);

  // Attribute accessors for the current node (throwing with the node name when absent).
  bool has_attr(const std::string& name) const;
  std::string attr_string(const std::string& name, const std::string& fallback = "") const;
  int64_t attr_int(const std::string& name, int64_t fallback) const;
  float attr_float(const std::string& name, float fallback) const;
  bool attr_bool(const std::string& name, bool fallback) const;
  std::vector<int64_t> attr_ints(const std::string& name) const;
  int attr_type(const std::string& name) const;

  const CheckpointReader* checkpoint() const { return checkpoint_; }
  [[noreturn]] void fail_node(const std::string& message) const;

 private:
  void convert_node(const tensorflow::NodeDef& node);
  TfValue resolve(const std::string& tensor_name);

  const tensorflow::GraphDef& graph_def_;
  const CheckpointReader* checkpoint_;
  std::string source_;
  std::map<std::string, const tensorflow::NodeDef*> nodes_by_name_;
  std::map<std::string, TfValue> converted_;  // "node:index" -> value
  const tensorflow::NodeDef* current_ = nullptr;
  ir::Graph graph_;
  std::map<int, int> tf_order_of_;  // cache: nchw value -> its NHWC transpose
  std::map<int, int> nchw_of_;      // cache: TF value -> its NCHW transpose
};

using OpConverter = std::function<void(TfConverter&)>;
const std::map<std::string, OpConverter>& op_converters();

// "name:0" for "name", "name:1" stays; control inputs ("^x") are not data inputs.
std::string canonical_tensor_name(const std::string& input);

}  // namespace kiln::tf
