#include "client/predict_request.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "client/base64_encode.h"
#include "core/error.h"

namespace kiln::client {

Payload parse_payload(const std::string& text) {
  if (text == "jpeg" || text == "image" || text == "b64") return Payload::kJpeg;
  if (text == "json") return Payload::kJson;
  if (text == "binary") return Payload::kBinary;
  fail("--payload \"{}\": expected jpeg, json or binary", text);
}

const char* payload_name(Payload payload) {
  switch (payload) {
    case Payload::kJpeg: return "jpeg";
    case Payload::kJson: return "json";
    case Payload::kBinary: return "binary";
  }
  return "?";
}

const char* protocol_name(Protocol protocol) { return protocol == Protocol::kTfServing ? "tfserving" : "kserve"; }

namespace {

// Shortest text that reads back as the same float, so JSON payloads lose nothing.
void append_value(std::string& out, float v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Pixels are written as JSON integers, which the server reads into its uint8 input.
void append_value(std::string& out, uint8_t v) {
  char buf[4];
  auto r = std::to_chars(buf, buf + sizeof buf, static_cast<unsigned>(v));
  out.append(buf, r.ptr);
}

// Row `r` of `t` as nested JSON lists of its trailing dims.
template <typename T>
void append_nested(std::string& out, const T* data, const Dims& dims, size_t axis) {
  out += '[';
  if (axis + 1 == dims.size()) {
    for (int64_t i = 0; i < dims[axis]; ++i) {
      if (i) out += ',';
      append_value(out, data[i]);
    }
  } else {
    int64_t stride = 1;
    for (size_t d = axis + 1; d < dims.size(); ++d) stride *= dims[d];
    for (int64_t i = 0; i < dims[axis]; ++i) {
      if (i) out += ',';
      append_nested(out, data + i * stride, dims, axis + 1);
    }
  }
  out += ']';
}

nlohmann::json shape_json(const Dims& dims) {
  nlohmann::json shape = nlohmann::json::array();
  for (int64_t d : dims) shape.push_back(d);
  return shape;
}

}  // namespace

HttpRequestSpec encoded_images_request(Protocol protocol, const std::string& target, const std::string& input_name,
                                       const std::vector<std::string>& encoded_images) {
  HttpRequestSpec r;
  r.target = target;
  if (protocol == Protocol::kTfServing) {
    r.body = "{\"instances\":[";
    for (size_t i = 0; i < encoded_images.size(); ++i) {
      r.body += i ? ",{\"b64\":\"" : "{\"b64\":\"";
      r.body += base64_encode(encoded_images[i]);
      r.body += "\"}";
    }
    r.body += "]}";
    return r;
  }
  nlohmann::json data = nlohmann::json::array();
  for (const auto& img : encoded_images) data.push_back(base64_encode(img));
  nlohmann::json body = {{"inputs",
                          {{{"name", input_name},
                            {"datatype", "BYTES"},
                            {"shape", {static_cast<int64_t>(encoded_images.size())}},
                            {"data", std::move(data)}}}}};
  r.body = body.dump();
  return r;
}

namespace {

template <typename T>
HttpRequestSpec typed_tensor_request(Protocol protocol, Payload payload, const std::string& target,
                                     const std::string& input_name, const Tensor& batch, const char* datatype) {
  HttpRequestSpec r;
  r.target = target;
  const T* data = batch.data<T>();
  // Digits per value plus a comma: floats take up to ~12 characters, pixels up to 4.
  const size_t per_value = sizeof(T) == 1 ? 4 : 12;
  if (protocol == Protocol::kTfServing) {
    KILN_CHECK(payload != Payload::kBinary,
               "--payload binary needs --protocol kserve (TF Serving REST has no binary tensor form)");
    // Row format: one instance per batch row, each the nested list of the row's values.
    const Dims row_dims(batch.dims().begin() + 1, batch.dims().end());
    int64_t row_size = 1;
    for (int64_t d : row_dims) row_size *= d;
    r.body.reserve(static_cast<size_t>(batch.numel()) * per_value + 32);
    r.body = "{\"instances\":[";
    for (int64_t i = 0; i < batch.dim(0); ++i) {
      if (i) r.body += ',';
      if (row_dims.empty()) append_value(r.body, data[i]);
      else append_nested(r.body, data + i * row_size, row_dims, 0);
    }
    r.body += "]}";
    return r;
  }
  nlohmann::json input = {{"name", input_name}, {"datatype", datatype}, {"shape", shape_json(batch.dims())}};
  if (payload == Payload::kBinary) {
    input["parameters"] = {{"binary_data_size", batch.nbytes()}};
    nlohmann::json header = {{"inputs", {input}}, {"parameters", {{"binary_data_output", true}}}};
    r.body = header.dump();
    r.headers.push_back({"Inference-Header-Content-Length", std::to_string(r.body.size())});
    r.content_type = "application/octet-stream";
    r.body.append(static_cast<const char*>(batch.raw()), batch.nbytes());
    return r;
  }
  // The data list is written by hand: nlohmann would print floats as doubles (longer).
  std::string flat;
  flat.reserve(static_cast<size_t>(batch.numel()) * per_value);
  flat += '[';
  for (int64_t i = 0; i < batch.numel(); ++i) {
    if (i) flat += ',';
    append_value(flat, data[i]);
  }
  flat += ']';
  input["data"] = "@DATA@";
  std::string body = nlohmann::json{{"inputs", {input}}}.dump();
  const size_t at = body.find("\"@DATA@\"");
  body.replace(at, 8, flat);
  r.body = std::move(body);
  return r;
}

}  // namespace

HttpRequestSpec tensor_request(Protocol protocol, Payload payload, const std::string& target,
                               const std::string& input_name, const Tensor& batch) {
  KILN_CHECK((batch.dtype() == DType::kF32 || batch.dtype() == DType::kU8) && batch.rank() >= 1,
             "a request batch must be f32 or u8 [N, ...], got {}", batch.describe());
  if (batch.dtype() == DType::kU8)
    return typed_tensor_request<uint8_t>(protocol, payload, target, input_name, batch, "UINT8");
  return typed_tensor_request<float>(protocol, payload, target, input_name, batch, "FP32");
}

}  // namespace kiln::client
