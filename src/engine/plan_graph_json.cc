#include "engine/plan_graph_json.h"

#include <cmath>
#include <limits>

#include "engine/plan_format.h"

namespace kiln::plan_detail {

using nlohmann::json;

uint64_t BlobLayout::add(const Tensor& tensor) {
  const uint64_t offset = (size_ + kPlanBlobAlignment - 1) / kPlanBlobAlignment * kPlanBlobAlignment;
  entries_.emplace_back(offset, tensor);
  size_ = offset + tensor.nbytes();
  return offset;
}

json float_to_json(float f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  return f;
}

namespace {

json dims_to_json(const Dims& dims) { return json(dims); }

json tensor_ref(const Tensor& t, BlobLayout& blob) {
  const uint64_t offset = blob.add(t);
  return {{"dtype", std::string(dtype_name(t.dtype()))}, {"dims", dims_to_json(t.dims())},
          {"offset", offset}, {"nbytes", static_cast<uint64_t>(t.nbytes())}};
}

json attribute_to_json(const ir::AttributeValue& a, BlobLayout& blob) {
  if (auto v = std::get_if<int64_t>(&a)) return {{"i", *v}};
  if (auto v = std::get_if<float>(&a)) return {{"f", float_to_json(*v)}};
  if (auto v = std::get_if<std::string>(&a)) return {{"s", *v}};
  if (auto v = std::get_if<std::vector<int64_t>>(&a)) return {{"ints", *v}};
  if (auto v = std::get_if<std::vector<float>>(&a)) {
    json list = json::array();
    for (float f : *v) list.push_back(float_to_json(f));
    return {{"floats", list}};
  }
  if (auto v = std::get_if<std::vector<std::string>>(&a)) return {{"strings", *v}};
  return {{"tensor", tensor_ref(std::get<Tensor>(a), blob)}};
}

}  // namespace

json graph_to_json(const ir::Graph& graph, BlobLayout& blob) {
  json values = json::array();
  for (const ir::Value& v : graph.values) {
    json jv = {{"name", v.name}};
    if (v.constant) {
      // The tensor is the truth for a constant's type and shape.
      jv["dtype"] = std::string(dtype_name(v.constant->dtype()));
      jv["dims"] = dims_to_json(v.constant->dims());
      jv["shape_known"] = true;
      const uint64_t offset = blob.add(*v.constant);
      jv["constant"] = {{"offset", offset}, {"nbytes", static_cast<uint64_t>(v.constant->nbytes())}};
    } else {
      jv["dtype"] = std::string(dtype_name(v.dtype));
      jv["dims"] = dims_to_json(v.dims);
      jv["shape_known"] = v.shape_known;
    }
    values.push_back(std::move(jv));
  }
  json nodes = json::array();
  for (const ir::Node& n : graph.nodes) {
    json attrs = json::object();
    for (const auto& [key, a] : n.attrs.all()) attrs[key] = attribute_to_json(a, blob);
    nodes.push_back({{"name", n.name}, {"op", n.op}, {"domain", n.domain}, {"inputs", n.inputs},
                     {"outputs", n.outputs}, {"attrs", std::move(attrs)}});
  }
  json metadata = json::array();
  for (const auto& [k, v] : graph.metadata) metadata.push_back({k, v});
  return {{"name", graph.name}, {"values", std::move(values)}, {"nodes", std::move(nodes)},
          {"inputs", graph.inputs}, {"outputs", graph.outputs}, {"metadata", std::move(metadata)}};
}

namespace {

// Reads the untrusted JSON with a path for every error ("graph.nodes[3].inputs[1]").
class Reader {
 public:
  Reader(const BlobView& blob, std::string what) : blob_(blob), what_(std::move(what)) {}

  [[noreturn]] void bad(const std::string& path, const std::string& problem) const {
    fail("{}: header: {}: {}", what_, path, problem);
  }
  const json& field(const json& obj, const char* key, const std::string& path) const {
    if (!obj.is_object()) bad(path, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) bad(path, fmt::format("missing field '{}'", key));
    return *it;
  }
  const json& array(const json& obj, const char* key, const std::string& path) const {
    const json& a = field(obj, key, path);
    if (!a.is_array()) bad(path + "." + key, "expected an array");
    return a;
  }
  std::string string(const json& j, const std::string& path) const {
    if (!j.is_string()) bad(path, "expected a string");
    return j.get<std::string>();
  }
  int64_t integer(const json& j, const std::string& path) const {
    if (j.is_number_unsigned()) {
      if (j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) bad(path, "integer out of range");
      return static_cast<int64_t>(j.get<uint64_t>());
    }
    if (!j.is_number_integer()) bad(path, "expected an integer");
    return j.get<int64_t>();
  }
  uint64_t unsigned_integer(const json& j, const std::string& path) const {
    if (!j.is_number_unsigned()) bad(path, "expected a non-negative integer");
    return j.get<uint64_t>();
  }
  float real(const json& j, const std::string& path) const {
    if (j.is_string()) {
      const std::string s = j.get<std::string>();
      if (s == "nan") return std::numeric_limits<float>::quiet_NaN();
      if (s == "inf") return std::numeric_limits<float>::infinity();
      if (s == "-inf") return -std::numeric_limits<float>::infinity();
    }
    if (!j.is_number()) bad(path, "expected a number");
    return static_cast<float>(j.get<double>());
  }
  std::vector<int64_t> integers(const json& j, const std::string& path) const {
    if (!j.is_array()) bad(path, "expected an array of integers");
    std::vector<int64_t> out;
    for (size_t i = 0; i < j.size(); ++i) out.push_back(integer(j[i], fmt::format("{}[{}]", path, i)));
    return out;
  }
  DType dtype(const json& j, const std::string& path) const {
    const std::string name = string(j, path);
    const DType t = dtype_from_name(name);
    if (t == DType::kUndefined && name != "undefined") bad(path, fmt::format("unknown dtype '{}'", name));
    return t;
  }
  Dims dims(const json& j, const std::string& path) const {
    Dims d = integers(j, path);
    for (int64_t x : d) if (x < kDynamic) bad(path, fmt::format("negative dimension {}", x));
    return d;
  }

  // A tensor stored in the blob: bounds, alignment and size checked before wrapping.
  Tensor tensor(DType dtype, const Dims& dims, const json& ref, const std::string& path) const {
    if (dtype == DType::kUndefined) bad(path, "a tensor needs a dtype");
    if (!is_static(dims)) bad(path, "a tensor needs static dimensions");
    int64_t count = 0;
    try {
      count = num_elements(dims);
    } catch (const Error& e) {
      bad(path, e.what());
    }
    const uint64_t offset = unsigned_integer(field(ref, "offset", path), path + ".offset");
    const uint64_t nbytes = unsigned_integer(field(ref, "nbytes", path), path + ".nbytes");
    if (static_cast<uint64_t>(count) > UINT64_MAX / dtype_size(dtype) ||
        nbytes != static_cast<uint64_t>(count) * dtype_size(dtype))
      bad(path, fmt::format("{} bytes do not hold a {}{} tensor", nbytes, dtype_name(dtype), dims_to_string(dims)));
    if (offset % kPlanBlobAlignment != 0) bad(path, fmt::format("offset {} is not {}-byte aligned", offset, kPlanBlobAlignment));
    if (offset > blob_.size || nbytes > blob_.size - offset)
      bad(path, fmt::format("bytes {}..{} lie outside the {}-byte weight blob", offset, offset + nbytes, blob_.size));
    return Tensor::wrap(dtype, dims, const_cast<uint8_t*>(blob_.data + offset), blob_.owner);
  }

  ir::AttributeValue attribute(const json& j, const std::string& path) const {
    if (!j.is_object() || j.size() != 1) bad(path, "expected an object with one of i, f, s, ints, floats, strings, tensor");
    const auto entry = j.begin();
    const std::string& kind = entry.key();
    const json& v = entry.value();
    if (kind == "i") return integer(v, path + ".i");
    if (kind == "f") return real(v, path + ".f");
    if (kind == "s") return string(v, path + ".s");
    if (kind == "ints") return integers(v, path + ".ints");
    if (kind == "floats") {
      if (!v.is_array()) bad(path + ".floats", "expected an array");
      std::vector<float> out;
      for (size_t i = 0; i < v.size(); ++i) out.push_back(real(v[i], fmt::format("{}.floats[{}]", path, i)));
      return out;
    }
    if (kind == "strings") {
      if (!v.is_array()) bad(path + ".strings", "expected an array");
      std::vector<std::string> out;
      for (size_t i = 0; i < v.size(); ++i) out.push_back(string(v[i], fmt::format("{}.strings[{}]", path, i)));
      return out;
    }
    if (kind == "tensor") {
      const std::string p = path + ".tensor";
      return tensor(dtype(field(v, "dtype", p), p + ".dtype"), dims(field(v, "dims", p), p + ".dims"), v, p);
    }
    bad(path, fmt::format("unknown attribute kind '{}'", kind));
  }

  std::vector<int> indices(const json& j, const std::string& path, int count, bool allow_none) const {
    std::vector<int> out;
    for (int64_t i : integers(j, path)) {
      if ((i < 0 && !(allow_none && i == ir::kNoValue)) || i >= count)
        bad(path, fmt::format("value index {} out of range (the graph has {} values)", i, count));
      out.push_back(static_cast<int>(i));
    }
    return out;
  }

 private:
  const BlobView& blob_;
  std::string what_;
};

}  // namespace

ir::Graph graph_from_json(const json& j, const BlobView& blob, const std::string& what) {
  Reader r(blob, what);
  ir::Graph g;
  g.name = r.string(r.field(j, "name", "graph"), "graph.name");

  const json& values = r.array(j, "values", "graph");
  if (values.size() > static_cast<size_t>(INT32_MAX)) r.bad("graph.values", "too many values");
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string path = fmt::format("graph.values[{}]", i);
    const json& jv = values[i];
    ir::Value v;
    v.name = r.string(r.field(jv, "name", path), path + ".name");
    v.dtype = r.dtype(r.field(jv, "dtype", path), path + ".dtype");
    v.dims = r.dims(r.field(jv, "dims", path), path + ".dims");
    const json& known = r.field(jv, "shape_known", path);
    if (!known.is_boolean()) r.bad(path + ".shape_known", "expected true or false");
    v.shape_known = known.get<bool>();
    if (jv.contains("constant")) v.constant = r.tensor(v.dtype, v.dims, jv["constant"], path + ".constant");
    g.values.push_back(std::move(v));
  }
  const int nv = static_cast<int>(g.values.size());

  const json& nodes = r.array(j, "nodes", "graph");
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string path = fmt::format("graph.nodes[{}]", i);
    const json& jn = nodes[i];
    ir::Node n;
    n.name = r.string(r.field(jn, "name", path), path + ".name");
    n.op = r.string(r.field(jn, "op", path), path + ".op");
    n.domain = r.string(r.field(jn, "domain", path), path + ".domain");
    n.inputs = r.indices(r.field(jn, "inputs", path), path + ".inputs", nv, true);
    n.outputs = r.indices(r.field(jn, "outputs", path), path + ".outputs", nv, false);
    const json& attrs = r.field(jn, "attrs", path);
    if (!attrs.is_object()) r.bad(path + ".attrs", "expected an object");
    for (const auto& [key, a] : attrs.items()) n.attrs.set(key, r.attribute(a, path + ".attrs." + key));
    g.nodes.push_back(std::move(n));
  }
  g.inputs = r.indices(r.field(j, "inputs", "graph"), "graph.inputs", nv, false);
  g.outputs = r.indices(r.field(j, "outputs", "graph"), "graph.outputs", nv, false);

  const json& metadata = r.array(j, "metadata", "graph");
  for (size_t i = 0; i < metadata.size(); ++i) {
    const std::string path = fmt::format("graph.metadata[{}]", i);
    const json& pair = metadata[i];
    if (!pair.is_array() || pair.size() != 2) r.bad(path, "expected a [key, value] pair");
    g.metadata.emplace_back(r.string(pair[0], path + "[0]"), r.string(pair[1], path + "[1]"));
  }

  try {
    ir::verify(g);
  } catch (const Error& e) {
    fail("{}: graph: {}", what, e.what());
  }
  return g;
}

}  // namespace kiln::plan_detail
