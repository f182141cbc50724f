// Builds small ONNX ModelProtos by hand for the importer tests.
#pragma once

#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

namespace kiln::testing {

class OnnxModelBuilder {
 public:
  explicit OnnxModelBuilder(int64_t opset) {
    model_.set_ir_version(7);
    auto* id = model_.add_opset_import();
    id->set_domain("");
    id->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }

  // dims: -1 = symbolic ("N").
  OnnxModelBuilder& input(const std::string& name, const std::vector<int64_t>& dims,
                          int elem = ::onnx::TensorProto::FLOAT) {
    fill_value_info(model_.mutable_graph()->add_input(), name, dims, elem);
    return *this;
  }
  OnnxModelBuilder& output(const std::string& name, const std::vector<int64_t>& dims = {},
                           int elem = ::onnx::TensorProto::FLOAT) {
    fill_value_info(model_.mutable_graph()->add_output(), name, dims, elem);
    return *this;
  }
  OnnxModelBuilder& floats(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& v,
                           bool raw = false) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::FLOAT);
    for (auto d : dims) t->add_dims(d);
    if (raw) t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    else for (float x : v) t->add_float_data(x);
    return *this;
  }
  OnnxModelBuilder& ints(const std::string& name, const std::vector<int64_t>& v) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (auto x : v) t->add_int64_data(x);
    return *this;
  }
  ::onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& name = "") {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(model_.graph().node_size()) : name);
    for (auto& i : inputs) n->add_input(i);
    for (auto& o : outputs) n->add_output(o);
    return *n;
  }
  ::onnx::ModelProto& model() { return model_; }
  std::string bytes() const { return model_.SerializeAsString(); }

 private:
  static void fill_value_info(::onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims,
                              int elem) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* shape = tt->mutable_shape();
    for (auto d : dims) {
      auto* dim = shape->add_dim();
      if (d < 0) dim->set_dim_param("N");
      else dim->set_dim_value(d);
    }
  }
  ::onnx::ModelProto model_;
};

inline void set_int(::onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(v);
}
inline void set_float(::onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
inline void set_ints(::onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}
inline void set_string(::onnx::NodeProto& n, const std::string& name, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::STRING);
  a->set_s(v);
}

}  // namespace kiln::testing
