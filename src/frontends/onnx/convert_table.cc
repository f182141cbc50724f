// The converter table and the ConvertContext plumbing shared by every converter.
#include "frontends/onnx/onnx_converter.h"
#include "frontends/onnx/onnx_tensor.h"
#include "ir/shape_inference.h"

namespace kiln::onnx {

const std::map<std::string, Converter>& converters() {
  static const std::map<std::string, Converter> table = {
      // Same form in every opset kiln reads (7..17).
      {"Relu", convert_passthrough},
      {"LeakyRelu", convert_passthrough},
      {"Sigmoid", convert_passthrough},
      {"HardSigmoid", convert_passthrough},
      {"HardSwish", convert_passthrough},
      {"Tanh", convert_passthrough},
      {"Add", convert_passthrough},
      {"Sub", convert_passthrough},
      {"Mul", convert_passthrough},
      {"Div", convert_passthrough},
      {"Sum", convert_passthrough},
      {"GlobalAveragePool", convert_passthrough},
      {"GlobalMaxPool", convert_passthrough},
      {"Flatten", convert_passthrough},
      {"Transpose", convert_passthrough},
      {"Concat", convert_passthrough},
      {"MatMul", convert_passthrough},
      {"Identity", convert_passthrough},
      {"Shape", convert_passthrough},
      {"Gather", convert_passthrough},
      {"Cast", convert_passthrough},
      {"ReduceMean", convert_passthrough},
      {"LRN", convert_passthrough},
      {"QuantizeLinear", convert_passthrough},
      {"DequantizeLinear", convert_passthrough},
      {"Constant", convert_constant},
      {"ArgMax", convert_passthrough},
      {"ArgMin", convert_passthrough},
      // Rewritten into opset-17 form.
      {"Conv", convert_conv},
      {"MaxPool", convert_pool},
      {"AveragePool", convert_pool},
      {"BatchNormalization", convert_batchnorm},
      {"Clip", convert_clip},
      {"Dropout", convert_dropout},
      {"Gemm", convert_gemm},
      {"Softmax", convert_softmax},
      {"LogSoftmax", convert_softmax},
      {"Reshape", convert_passthrough},
      {"Squeeze", convert_squeeze},
      {"Unsqueeze", convert_squeeze},
      {"Split", convert_split},
      {"Slice", convert_slice},
      {"Pad", convert_pad},
  };
  return table;
}

int ConvertContext::value(const std::string& name) {
  if (name.empty()) return ir::kNoValue;
  auto it = by_name_.find(name);
  if (it != by_name_.end()) return it->second;
  const int v = graph_.add_value(name);
  by_name_[name] = v;
  return v;
}

int ConvertContext::temp_value(const std::string& base) {
  const int v = graph_.add_value(graph_.unique_name(base));
  by_name_[graph_.value(v).name] = v;
  return v;
}

int ConvertContext::add_i64_constant(const std::string& base, const std::vector<int64_t>& values) {
  const int v = graph_.add_constant(graph_.unique_name(base),
                                    Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values));
  by_name_[graph_.value(v).name] = v;
  return v;
}

int ConvertContext::add_f32_scalar(const std::string& base, float value) {
  const int v = graph_.add_constant(graph_.unique_name(base), Tensor::scalar<float>(value));
  by_name_[graph_.value(v).name] = v;
  return v;
}

const Tensor* ConvertContext::constant(int v) const {
  if (v == ir::kNoValue) return nullptr;
  const ir::Value& value = graph_.value(v);
  return value.constant ? &*value.constant : nullptr;
}

void ConvertContext::emit(ir::Node node) {
  bool inputs_known = true;
  for (int i : node.inputs)
    if (i != ir::kNoValue && !graph_.value(i).shape_known) inputs_known = false;
  const auto& fns = ir::shape_functions();
  auto fn = fns.find(node.op);
  const int index = graph_.add_node(std::move(node));
  // Early inference is only a hint for later converters; the full pass after
  // conversion reports errors with proper context.
  if (inputs_known && fn != fns.end()) {
    try {
      fn->second(graph_, graph_.nodes[index]);
    } catch (const Error&) {
    }
  }
}

ir::AttributeValue convert_attribute(const ::onnx::AttributeProto& a, const std::string& base_dir) {
  using AP = ::onnx::AttributeProto;
  switch (a.type()) {
    case AP::INT: return static_cast<int64_t>(a.i());
    case AP::FLOAT: return a.f();
    case AP::STRING: return a.s();
    case AP::INTS: return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    case AP::FLOATS: return std::vector<float>(a.floats().begin(), a.floats().end());
    case AP::STRINGS: return std::vector<std::string>(a.strings().begin(), a.strings().end());
    case AP::TENSOR: return tensor_from_onnx(a.t(), base_dir);
    default: break;
  }
  // Old exporters leave `type` unset; fall back on whichever field is filled.
  if (a.type() == AP::UNDEFINED) {
    if (a.has_i()) return static_cast<int64_t>(a.i());
    if (a.has_f()) return a.f();
    if (a.has_s()) return a.s();
    if (a.has_t()) return tensor_from_onnx(a.t(), base_dir);
    if (a.ints_size()) return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    if (a.floats_size()) return std::vector<float>(a.floats().begin(), a.floats().end());
  }
  fail_with(ErrorCode::kUnimplemented, "attribute type {} is not supported", static_cast<int>(a.type()));
}

}  // namespace kiln::onnx
