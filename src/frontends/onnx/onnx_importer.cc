#include "frontends/onnx/onnx_importer.h"

#include <climits>
#include <filesystem>
#include <fstream>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "frontends/onnx/onnx_converter.h"
#include "frontends/onnx/onnx_passes.h"
#include "frontends/onnx/onnx_tensor.h"
#include "ir/shape_inference.h"

namespace kiln::onnx {

namespace {

constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 17;
// Protobuf cannot represent a message above 2 GiB; larger weights must be external data.
constexpr size_t kMaxModelBytes = static_cast<size_t>(INT_MAX);

::onnx::ModelProto parse_model(const void* data, size_t size, const std::string& source) {
  KILN_CHECK(size > 0, "{}: the file is empty", source);
  KILN_CHECK(size <= kMaxModelBytes, "{}: {} bytes is above protobuf's 2 GiB limit; store weights as external data",
             source, size);
  google::protobuf::io::ArrayInputStream raw(data, static_cast<int>(size));
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(INT_MAX);
  coded.SetRecursionLimit(64);
  ::onnx::ModelProto model;
  if (!model.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage())
    fail("{}: not a valid ONNX model (protobuf parse failed; truncated or not an .onnx file?)", source);
  KILN_CHECK(model.has_graph(), "{}: not an ONNX model (no graph)", source);
  return model;
}

int64_t default_opset(const ::onnx::ModelProto& model, const std::string& source) {
  int64_t opset = -1;
  for (const auto& id : model.opset_import())
    if (id.domain().empty() || id.domain() == "ai.onnx") opset = id.version();
  if (opset < 0 && model.opset_import_size() == 0) opset = 1;  // the spec's default for old models
  KILN_CHECK(opset >= 0, "{}: the model imports no version of the default ONNX op set", source);
  if (opset < kMinOpset || opset > kMaxOpset)
    fail_with(ErrorCode::kUnimplemented, "{}: ONNX opset {} is not supported (kiln reads opsets {} to {}); "
              "convert the model with onnx.version_converter", source, opset, kMinOpset, kMaxOpset);
  return opset;
}

DType value_dtype(const ::onnx::ValueInfoProto& info, Dims* dims) {
  KILN_CHECK(info.type().has_tensor_type(), "graph input/output \"{}\" is not a tensor", info.name());
  const auto& tt = info.type().tensor_type();
  const DType dtype = dtype_from_onnx(tt.elem_type());
  if (dtype == DType::kUndefined)
    fail_with(ErrorCode::kUnimplemented, "graph input \"{}\": unsupported element type {}", info.name(), tt.elem_type());
  dims->clear();
  if (!tt.has_shape()) fail_with(ErrorCode::kUnimplemented, "graph input \"{}\" has no shape (unknown rank)", info.name());
  for (const auto& d : tt.shape().dim()) {
    // dim_param ("batch", "N") and missing values are dynamic.
    if (d.has_dim_value()) {
      KILN_CHECK(d.dim_value() >= 0, "graph input \"{}\" has a negative dimension", info.name());
      dims->push_back(d.dim_value());
    } else {
      dims->push_back(kDynamic);
    }
  }
  return dtype;
}

ir::Node to_generic_node(ConvertContext& cx, const ::onnx::NodeProto& proto, const std::string& base_dir, size_t index) {
  ir::Node node;
  node.name = proto.name().empty() ? fmt::format("{}_{}", proto.op_type(), index) : proto.name();
  node.op = proto.op_type();
  node.domain = proto.domain() == "ai.onnx" ? "" : proto.domain();
  for (const auto& name : proto.input()) node.inputs.push_back(cx.value(name));
  // Trailing omitted optional outputs are dropped; inner ones keep a scratch value.
  int last = proto.output_size() - 1;
  while (last >= 0 && proto.output(last).empty()) --last;
  for (int i = 0; i <= last; ++i) {
    const std::string& name = proto.output(i);
    node.outputs.push_back(name.empty() ? cx.temp_value(node.name + "_unused") : cx.value(name));
  }
  for (const auto& attr : proto.attribute()) {
    try {
      node.attrs.set(attr.name(), convert_attribute(attr, base_dir));
    } catch (const Error& e) {
      throw Error(fmt::format("node \"{}\" ({}): attribute \"{}\": {}", node.name, node.op, attr.name(), e.what()),
                  e.code());
    }
  }
  return node;
}

ir::Graph convert_model(const ::onnx::ModelProto& model, const std::string& source, const std::string& base_dir) {
  const int64_t opset = default_opset(model, source);
  const auto& g = model.graph();
  ir::Graph graph;
  graph.name = g.name().empty() ? "onnx_model" : g.name();
  graph.metadata.emplace_back("producer", model.producer_name() + " " + model.producer_version());
  graph.metadata.emplace_back("onnx.opset", std::to_string(opset));
  for (const auto& p : model.metadata_props()) graph.metadata.emplace_back(p.key(), p.value());
  ConvertContext cx(graph, source, opset);

  for (const auto& init : g.initializer()) {
    KILN_CHECK(!cx.has(init.name()), "initializer \"{}\" is defined twice", init.name());
    cx.bind(init.name(), graph.add_constant(init.name(), tensor_from_onnx(init, base_dir)));
  }
  for (const auto& sparse : g.sparse_initializer())
    fail_with(ErrorCode::kUnimplemented, "sparse initializer \"{}\" is not supported", sparse.values().name());
  for (const auto& input : g.input()) {
    if (cx.has(input.name())) continue;  // an initializer listed as input is a weight, not a model input
    Dims dims;
    const DType dtype = value_dtype(input, &dims);
    const int v = graph.add_value(input.name(), dtype, dims);
    cx.bind(input.name(), v);
    graph.inputs.push_back(v);
  }

  std::vector<std::pair<std::string, std::string>> unsupported;
  const auto& table = converters();
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& proto = g.node(i);
    const bool onnx_domain = proto.domain().empty() || proto.domain() == "ai.onnx";
    auto it = onnx_domain ? table.find(proto.op_type()) : table.end();
    if (it == table.end()) {
      const std::string op = onnx_domain ? proto.op_type() : proto.domain() + "." + proto.op_type();
      bool seen = false;
      for (auto& u : unsupported) seen = seen || u.first == op;
      if (!seen) unsupported.emplace_back(op, proto.name().empty() ? fmt::format("{}_{}", proto.op_type(), i) : proto.name());
      continue;
    }
    if (!unsupported.empty()) continue;  // the model is rejected anyway; just keep collecting
    ir::Node node = to_generic_node(cx, proto, base_dir, static_cast<size_t>(i));
    try {
      it->second(cx, std::move(node));
    } catch (const Error& e) {
      throw Error(fmt::format("node \"{}\" ({}): {}", proto.name().empty() ? proto.op_type() : proto.name(),
                              proto.op_type(), e.what()), e.code());
    }
  }
  if (!unsupported.empty()) {
    std::string list;
    for (auto& [op, name] : unsupported) list += fmt::format("{}{} (node \"{}\")", list.empty() ? "" : ", ", op, name);
    fail_with(ErrorCode::kUnimplemented, "unsupported ONNX ops: {}", list);
  }
  for (const auto& out : g.output()) {
    KILN_CHECK(!out.name().empty(), "a graph output has no name");
    graph.outputs.push_back(cx.value(out.name()));
  }
  KILN_CHECK(!graph.outputs.empty(), "the graph has no outputs");
  // Names that were referred to but that no initializer, input or node defines.
  std::vector<bool> defined(graph.values.size(), false);
  for (int i : graph.inputs) defined[i] = true;
  for (const auto& n : graph.nodes)
    for (int o : n.outputs) defined[o] = true;
  for (size_t v = 0; v < graph.values.size(); ++v)
    if (graph.values[v].constant) defined[v] = true;
  for (const auto& n : graph.nodes)
    for (int i : n.inputs)
      KILN_CHECK(i == ir::kNoValue || defined[i], "node \"{}\" ({}): input \"{}\" is not defined by any node, "
                 "initializer or graph input", n.name, n.op, graph.value(i).name);
  for (int o : graph.outputs)
    KILN_CHECK(defined[o], "graph output \"{}\" is not defined by any node, initializer or graph input",
               graph.value(o).name);
  return graph;
}

}  // namespace

ir::Graph import_onnx_model(const ::onnx::ModelProto& model, const std::string& source_name,
                            const std::string& base_dir) {
  try {
    ir::Graph graph = convert_model(model, source_name, base_dir);
    graph.topological_sort();
    ir::verify(graph);
    ir::infer_shapes(graph);
    resolve_auto_pads(graph);
    optimize_imported_graph(graph);
    ir::infer_shapes(graph);
    return graph;
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(source_name + ":", 0) == 0) throw;
    throw Error(fmt::format("{}: {}", source_name, msg), e.code());
  } catch (const std::bad_alloc&) {
    fail_with(ErrorCode::kResourceExhausted, "{}: out of memory while importing", source_name);
  } catch (const std::exception& e) {
    // A library failure on malformed input must still reach the caller as kiln::Error.
    fail_with(ErrorCode::kInternal, "{}: {}", source_name, e.what());
  }
}

ir::Graph import_onnx_bytes(const void* data, size_t size, const std::string& source_name) {
  return import_onnx_model(parse_model(data, size, source_name), source_name, "");
}

ir::Graph import_onnx_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail_with(ErrorCode::kNotFound, "{}: cannot open the file", path);
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  KILN_CHECK(size >= 0, "{}: cannot read the file", path);
  KILN_CHECK(static_cast<size_t>(size) <= kMaxModelBytes,
             "{}: {} bytes is above protobuf's 2 GiB limit; store weights as external data", path, size);
  std::string bytes(static_cast<size_t>(size), '\0');
  f.seekg(0);
  f.read(bytes.data(), size);
  KILN_CHECK(f.good() || size == 0, "{}: cannot read the file", path);
  std::string base = std::filesystem::path(path).parent_path().string();
  if (base.empty()) base = ".";
  return import_onnx_model(parse_model(bytes.data(), bytes.size(), path), path, base);
}

}  // namespace kiln::onnx
