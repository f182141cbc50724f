#include "client/predict_response.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace kiln::client {

using nlohmann::json;

namespace {

// A nested list of numbers: its dims (from the first element at each level, checked
// everywhere) and its values in row-major order. `leaf_depth`: where numbers sit, once seen.
void flatten(const json& v, size_t depth, Dims& dims, int& leaf_depth, std::vector<float>& values,
             const std::string& what) {
  if (v.is_number()) {
    if (leaf_depth < 0 && depth == dims.size()) leaf_depth = static_cast<int>(depth);
    if (static_cast<int>(depth) != leaf_depth) fail("{}: ragged nested list (a number at depth {})", what, depth);
    values.push_back(v.get<float>());
    return;
  }
  if (!v.is_array()) fail("{}: expected numbers or lists of numbers, found {}", what, v.type_name());
  if (leaf_depth >= 0 && static_cast<int>(depth) >= leaf_depth)
    fail("{}: ragged nested list (a list at depth {} where numbers were)", what, depth);
  const int64_t n = static_cast<int64_t>(v.size());
  if (depth == dims.size()) {
    dims.push_back(n);
  } else if (depth > dims.size() || dims[depth] != n) {
    fail("{}: ragged nested list (lengths differ at depth {})", what, depth);
  }
  for (const auto& e : v) flatten(e, depth + 1, dims, leaf_depth, values, what);
}

Tensor nested_to_tensor(const json& v, const std::string& what) {
  Dims dims;
  std::vector<float> values;
  if (v.is_array() && !v.empty() && !v[0].is_array() && !v[0].is_number())
    fail("{}: expected numbers or lists of numbers", what);
  int leaf_depth = -1;
  flatten(v, 0, dims, leaf_depth, values, what);
  return Tensor::from_vector<float>(dims, values);
}

json parse_body(const std::string& text, const char* what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: the reply is not JSON: {}", what, e.what());
  }
}

template <typename T>
void copy_as_float(const char* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

Tensor binary_to_tensor(std::string_view bytes, const std::string& datatype, const Dims& dims, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) fail("{}: negative dimension in shape", what);
    n *= d;
  }
  size_t elem = 0;
  if (datatype == "FP32" || datatype == "INT32") elem = 4;
  else if (datatype == "FP64" || datatype == "INT64") elem = 8;
  else if (datatype == "UINT8" || datatype == "INT8") elem = 1;
  else fail("{}: binary outputs of datatype {} are not supported by this client", what, datatype);
  if (bytes.size() != static_cast<size_t>(n) * elem)
    fail("{}: {} bytes of binary data for shape of {} {} elements", what, bytes.size(), n, datatype);
  Tensor t(DType::kF32, dims);
  float* dst = t.data<float>();
  const char* src = bytes.data();
  if (datatype == "FP32") copy_as_float<float>(src, n, dst);
  else if (datatype == "INT32") copy_as_float<int32_t>(src, n, dst);
  else if (datatype == "FP64") copy_as_float<double>(src, n, dst);
  else if (datatype == "INT64") copy_as_float<int64_t>(src, n, dst);
  else if (datatype == "UINT8") copy_as_float<uint8_t>(src, n, dst);
  else copy_as_float<int8_t>(src, n, dst);
  return t;
}

}  // namespace

std::vector<NamedOutput> parse_tf_predict_body(const std::string& body) {
  const json j = parse_body(body, "TF Serving predict reply");
  std::vector<NamedOutput> out;
  if (j.contains("predictions")) {
    const json& rows = j["predictions"];
    if (!rows.is_array()) fail("TF Serving predict reply: \"predictions\" is not a list");
    if (!rows.empty() && rows[0].is_object()) {
      // Several named outputs: each row an object; gather each output's rows.
      for (const auto& [name, first] : rows[0].items()) {
        json column = json::array();
        for (const auto& row : rows) {
          if (!row.is_object() || !row.contains(name)) fail("TF Serving predict reply: a row lacks output \"{}\"", name);
          column.push_back(row[name]);
        }
        out.push_back({name, nested_to_tensor(column, "output \"" + name + "\"")});
      }
    } else {
      out.push_back({"", nested_to_tensor(rows, "\"predictions\"")});
    }
  } else if (j.contains("outputs")) {
    const json& o = j["outputs"];
    if (o.is_object()) {
      for (const auto& [name, value] : o.items()) out.push_back({name, nested_to_tensor(value, "output \"" + name + "\"")});
    } else {
      out.push_back({"", nested_to_tensor(o, "\"outputs\"")});
    }
  } else {
    fail("TF Serving predict reply has neither \"predictions\" nor \"outputs\"");
  }
  return out;
}

std::vector<NamedOutput> parse_kserve_infer_body(const std::string& body, std::optional<size_t> header_length) {
  std::string_view json_part = body, binary;
  if (header_length) {
    if (*header_length > body.size())
      fail("KServe reply: Inference-Header-Content-Length {} exceeds the body ({} bytes)", *header_length, body.size());
    json_part = std::string_view(body).substr(0, *header_length);
    binary = std::string_view(body).substr(*header_length);
  }
  const json j = parse_body(std::string(json_part), "KServe infer reply");
  if (!j.contains("outputs") || !j["outputs"].is_array()) fail("KServe infer reply has no \"outputs\" list");
  std::vector<NamedOutput> out;
  size_t offset = 0;
  for (const auto& o : j["outputs"]) {
    NamedOutput named;
    named.name = o.value("name", std::string());
    const std::string what = "KServe output \"" + named.name + "\"";
    Dims dims;
    if (!o.contains("shape") || !o["shape"].is_array()) fail("{}: no \"shape\"", what);
    for (const auto& d : o["shape"]) dims.push_back(d.get<int64_t>());
    const std::string datatype = o.value("datatype", std::string());
    if (o.contains("parameters") && o["parameters"].contains("binary_data_size")) {
      const size_t size = o["parameters"]["binary_data_size"].get<size_t>();
      if (size > binary.size() - offset) fail("{}: binary data truncated", what);
      named.values = binary_to_tensor(binary.substr(offset, size), datatype, dims, what);
      offset += size;
    } else if (o.contains("data")) {
      Tensor flat = nested_to_tensor(o["data"], what);
      int64_t n = 1;
      for (int64_t d : dims) n *= d;
      if (flat.numel() != n) fail("{}: {} values for shape of {} elements", what, flat.numel(), n);
      named.values = flat.reshaped(dims);
    } else {
      fail("{}: neither \"data\" nor binary data", what);
    }
    out.push_back(std::move(named));
  }
  return out;
}

std::vector<NamedOutput> parse_predict_reply(Protocol protocol, const HttpReply& reply) {
  if (protocol == Protocol::kTfServing) return parse_tf_predict_body(reply.body);
  std::optional<size_t> header_length;
  const std::string h = reply.header("Inference-Header-Content-Length");
  if (!h.empty()) {
    try {
      header_length = std::stoull(h);
    } catch (const std::exception&) {
      fail("KServe reply: Inference-Header-Content-Length \"{}\" is not a number", h);
    }
  }
  return parse_kserve_infer_body(reply.body, header_length);
}

}  // namespace kiln::client
