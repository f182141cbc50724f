#include "frontends/tf/tf_importer.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <google/protobuf/io/coded_stream.h>

#include "frontends/onnx/onnx_passes.h"
#include "frontends/tf/tf_converter.h"
#include "frontends/tf/tf_types.h"
#include "ir/shape_inference.h"
#include "tensorflow/saved_model.pb.h"

namespace kiln::tf {

namespace fs = std::filesystem;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail_with(ErrorCode::kNotFound, "{}: cannot open", path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

template <typename Message>
void parse_message(Message& m, const void* data, size_t size, const std::string& what, const char* kind) {
  if (size > static_cast<size_t>(INT32_MAX)) fail("{}: file too large ({} bytes)", what, size);
  google::protobuf::io::CodedInputStream in(static_cast<const uint8_t*>(data), static_cast<int>(size));
  in.SetTotalBytesLimit(INT32_MAX);
  if (!m.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage())
    fail("{}: not a valid {} (truncated or corrupt protobuf)", what, kind);
}

// Shared tail of every import: shapes, explicit pads, folding of shape arithmetic.
ir::Graph finish(ir::Graph graph, const std::string& source, bool nhwc_input) {
  try {
    graph.topological_sort();
    ir::verify(graph);
    ir::infer_shapes(graph);
    onnx::resolve_auto_pads(graph);
    onnx::optimize_imported_graph(graph);
    ir::infer_shapes(graph);
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(source + ":", 0) == 0) throw;
    throw Error(fmt::format("{}: {}", source, msg), e.code());
  }
  // TensorFlow's ImageNet models take 0..255 pixels minus the channel means, no std, at the
  // input's own size (the central crop of an image resized by 256/224 of it).
  int64_t side = 224;
  if (!graph.inputs.empty()) {
    const Dims& d = graph.value(graph.inputs[0]).dims;
    const int64_t h = d.size() == 4 ? (nhwc_input ? d[1] : d[2]) : -1;
    const int64_t w = d.size() == 4 ? (nhwc_input ? d[2] : d[3]) : -1;
    if (h > 0 && h == w) side = h;
  }
  graph.metadata.emplace_back(
      "kiln.preprocess",
      fmt::format(R"({{"resize_shorter":{},"crop":{},"scale":1.0,"mean":[123.68,116.78,103.94],)"
                  R"("std":[1,1,1],"channel_order":"RGB","layout":"{}"}})",
                  (side * 256 + 112) / 224, side, nhwc_input ? "NHWC" : "NCHW"));
  graph.metadata.emplace_back("kiln.source_format", "tensorflow");
  return graph;
}

bool first_input_is_nhwc_image(const ir::Graph& g) {
  if (g.inputs.empty()) return false;
  const Dims& d = g.value(g.inputs[0]).dims;
  return d.size() == 4 && d[3] == 3;
}

// Data outputs of the graph that no node reads: what a frozen graph computes.
std::vector<std::string> dangling_outputs(const tensorflow::GraphDef& g) {
  static const std::set<std::string> kNotResults = {"Const", "NoOp", "Placeholder", "Assert", "SaveV2", "RestoreV2",
                                                    "VarHandleOp", "VariableV2", "Assign", "AssignVariableOp"};
  std::set<std::string> consumed;
  for (const auto& n : g.node())
    for (const auto& in : n.input())
      if (!in.empty() && in[0] != '^') consumed.insert(canonical_tensor_name(in).substr(0, canonical_tensor_name(in).rfind(':')));
  std::vector<std::string> floats, others;
  for (const auto& n : g.node()) {
    if (consumed.count(n.name()) || kNotResults.count(n.op())) continue;
    // Probabilities / logits first: the CLI and the server read output 0 as the scores.
    const bool is_float_op = n.op() != "ArgMax" && n.op() != "Shape" && n.op() != "Cast";
    (is_float_op ? floats : others).push_back(n.name() + ":0");
  }
  floats.insert(floats.end(), others.begin(), others.end());
  return floats;
}

}  // namespace

ir::Graph import_graphdef_bytes(const void* data, size_t size, const std::string& source_name) {
  tensorflow::GraphDef graph_def;
  parse_message(graph_def, data, size, source_name, "TensorFlow GraphDef");
  if (graph_def.node_size() == 0) fail("{}: the graph has no nodes (not a frozen TensorFlow graph?)", source_name);
  const auto outputs = dangling_outputs(graph_def);
  if (outputs.empty()) fail("{}: found no output node", source_name);
  TfConverter converter(graph_def, nullptr, source_name);
  ir::Graph graph = converter.convert(outputs, {}, {});
  graph.name = fs::path(source_name).stem().string();
  const bool nhwc = first_input_is_nhwc_image(graph);
  return finish(std::move(graph), source_name, nhwc);
}

ir::Graph import_frozen_graph(const std::string& path) {
  const std::string bytes = read_file(path);
  return import_graphdef_bytes(bytes.data(), bytes.size(), path);
}

ir::Graph import_saved_model(const std::string& dir, const std::string& signature) {
  const std::string pb_path = (fs::path(dir) / "saved_model.pb").string();
  const std::string bytes = read_file(pb_path);
  tensorflow::SavedModel saved;
  parse_message(saved, bytes.data(), bytes.size(), pb_path, "SavedModel");
  const tensorflow::MetaGraphDef* meta = nullptr;
  for (const auto& m : saved.meta_graphs()) {
    for (const auto& tag : m.meta_info_def().tags())
      if (tag == "serve") meta = &m;
    if (meta) break;
  }
  if (!meta && saved.meta_graphs_size() > 0) meta = &saved.meta_graphs(0);
  if (!meta) fail("{}: the SavedModel holds no meta graph", pb_path);
  auto sig_it = meta->signature_def().find(signature);
  if (sig_it == meta->signature_def().end()) {
    std::string names;
    for (const auto& [k, v] : meta->signature_def()) names += (names.empty() ? "" : ", ") + k;
    fail("{}: no signature '{}' (the model has: {})", pb_path, signature, names.empty() ? "none" : names);
  }
  const tensorflow::SignatureDef& sig = sig_it->second;

  std::vector<std::string> outputs, output_names;
  for (const auto& [key, info] : sig.outputs()) {
    outputs.push_back(info.name());
    output_names.push_back(key);
  }
  // Float outputs first: the CLI and the server read output 0 as the scores.
  std::vector<size_t> order(outputs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    auto is_float = [&](size_t i) { return sig.outputs().at(output_names[i]).dtype() == tensorflow::DT_FLOAT; };
    return is_float(a) && !is_float(b);
  });
  std::vector<std::string> sorted_outputs, sorted_names;
  for (size_t i : order) {
    sorted_outputs.push_back(outputs[i]);
    sorted_names.push_back(output_names[i]);
  }
  std::vector<std::pair<std::string, std::string>> inputs;
  for (const auto& [key, info] : sig.inputs()) {
    std::string node = info.name().substr(0, info.name().rfind(':'));
    inputs.emplace_back(node, key);
  }

  const std::string variables = (fs::path(dir) / "variables" / "variables").string();
  std::optional<CheckpointReader> checkpoint;
  if (fs::exists(variables + ".index")) checkpoint = CheckpointReader::open(variables);
  TfConverter converter(meta->graph_def(), checkpoint ? &*checkpoint : nullptr, dir);
  ir::Graph graph = converter.convert(sorted_outputs, sorted_names, inputs);
  graph.name = fs::path(dir).filename().string();
  const bool nhwc = first_input_is_nhwc_image(graph);
  return finish(std::move(graph), dir, nhwc);
}

}  // namespace kiln::tf
