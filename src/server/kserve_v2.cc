#include "server/kserve_v2.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "server/base64.h"
#include "server/input_assembler.h"
#include "server/json_tensor_reader.h"
#include "server/json_writer.h"
#include "server/model_repository.h"
#include "server/protocol_names.h"
#include "server/tensor_json.h"
#include "server/tensor_rows.h"

namespace kiln::server {

namespace od = simdjson::ondemand;

namespace {

Status invalid(std::string message) { return Status(ErrorCode::kInvalidArgument, std::move(message)); }

Status json_error(simdjson::error_code e) {
  return invalid(fmt::format("malformed JSON request: {}", simdjson::error_message(e)));
}

// Looks up an optional field. simdjson's on-demand parser must not be used further after
// an error, so anything but "no such field" is reported and parsing stops.
Status optional_field(od::object& obj, std::string_view key, std::optional<od::value>* out) {
  od::value v;
  const auto e = obj.find_field_unordered(key).get(v);
  if (e == simdjson::NO_SUCH_FIELD) return Status();
  if (e) return json_error(e);
  *out = v;
  return Status();
}

// Raw bytes of one input taken from the binary section of the body.
struct BinarySlice {
  size_t offset = 0, size = 0;
};

struct ParsedInput {
  int index = -1;
  std::string datatype;
  Dims shape;
  std::optional<size_t> binary_size;
  Tensor tensor;            // from JSON "data", when given
  bool has_data = false;
};

Status read_shape(od::value v, const std::string& what, Dims* out) {
  od::array arr;
  if (v.get_array().get(arr)) return invalid(what + ": \"shape\" must be a list of integers");
  for (auto e : arr) {
    int64_t d = 0;
    if (e.get_int64().get(d) || d < 0) return invalid(what + ": \"shape\" must hold non-negative integers");
    out->push_back(d);
    if (out->size() > 16) return invalid(what + ": \"shape\" has too many dimensions");
  }
  return Status();
}

// An input's BYTES elements (encoded images) from JSON: base64 strings or {"b64": ...}.
Status read_bytes_json(od::value data, const std::string& what, InputAssembler& assembler) {
  od::array arr;
  if (data.get_array().get(arr)) return invalid(what + ": BYTES \"data\" must be a list of base64 strings");
  for (auto e : arr) {
    od::value v;
    if (e.get(v)) return invalid(what + ": malformed JSON list");
    od::json_type type;
    if (v.type().get(type)) return invalid(what + ": malformed JSON value");
    std::optional<std::string> bytes;
    if (type == od::json_type::string) {
      std::string_view text;
      if (v.get_string().get(text)) return invalid(what + ": malformed string");
      bytes = base64_decode(text);
      if (!bytes) return invalid(what + ": BYTES elements must be base64-encoded in JSON (or use binary data)");
    } else if (type == od::json_type::array) {
      Status s = read_bytes_json(v, what, assembler);  // [[...]] for shape [N,1]
      if (!s.ok()) return s;
      continue;
    } else {
      Status s;
      bytes = read_b64_object(v, what, &s);
      if (!s.ok()) return s;
      if (!bytes) return invalid(what + ": BYTES elements must be base64 strings");
    }
    Status s = assembler.add_encoded_image(*bytes);
    if (!s.ok()) return s;
  }
  return Status();
}

Status parse_input(od::value v, const std::vector<TensorInfo>& inputs, const ImageInputSpec& image, size_t position,
                   ParsedInput* in, std::unique_ptr<InputAssembler>* bytes_assembler) {
  od::object obj;
  if (v.get_object().get(obj)) return invalid(fmt::format("inputs[{}] must be an object", position));
  std::string_view name;
  if (obj.find_field_unordered("name").get_string().get(name))
    return invalid(fmt::format("inputs[{}]: \"name\" (a string) is required", position));
  const std::string what = fmt::format("input \"{}\"", name);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].name == name) in->index = static_cast<int>(i);
  if (in->index < 0) {
    std::string names;
    for (const auto& i : inputs) names += (names.empty() ? "" : ", ") + i.name;
    return invalid(fmt::format("unknown input \"{}\" (the model's inputs: {})", name, names));
  }
  std::string_view datatype;
  if (obj.find_field_unordered("datatype").get_string().get(datatype))
    return invalid(what + ": \"datatype\" (a string such as FP32) is required");
  in->datatype = std::string(datatype);
  od::value shape_value;
  if (obj.find_field_unordered("shape").get(shape_value)) return invalid(what + ": \"shape\" is required");
  Status s = read_shape(shape_value, what, &in->shape);
  if (!s.ok()) return s;

  std::optional<od::value> params;
  if (Status ps = optional_field(obj, "parameters", &params); !ps.ok()) return ps;
  if (params) {
    od::object pobj;
    if (params->get_object().get(pobj)) return invalid(what + ": \"parameters\" must be an object");
    std::optional<od::value> size_value;
    if (Status ps = optional_field(pobj, "binary_data_size", &size_value); !ps.ok()) return ps;
    if (size_value) {
      int64_t n = 0;
      if (size_value->get_int64().get(n) || n < 0)
        return invalid(what + ": \"binary_data_size\" must be a non-negative integer");
      in->binary_size = static_cast<size_t>(n);
    }
  }

  const TensorInfo& info = inputs[static_cast<size_t>(in->index)];
  const bool is_bytes = in->datatype == "BYTES";
  if (is_bytes) {
    if (!(image.enabled && in->index == 0))
      return invalid(fmt::format("{}: BYTES data is only accepted for image models; this input is {}", what,
                                 kserve_dtype_name(info.dtype)));
    *bytes_assembler = std::make_unique<InputAssembler>(info, &image, what);
  } else {
    const DType dt = kserve_dtype_from_name(in->datatype);
    if (dt == DType::kUndefined) return invalid(fmt::format("{}: unknown datatype \"{}\"", what, in->datatype));
    if (dt != info.dtype)
      return invalid(fmt::format("{}: datatype {} does not match the model's {}", what, in->datatype,
                                 kserve_dtype_name(info.dtype)));
  }

  std::optional<od::value> data_field;
  if (Status ds = optional_field(obj, "data", &data_field); !ds.ok()) return ds;
  if (data_field) {
    od::value data = *data_field;
    if (in->binary_size) return invalid(what + ": give either \"data\" or \"binary_data_size\", not both");
    in->has_data = true;
    if (is_bytes) return read_bytes_json(data, what, **bytes_assembler);
    JsonTensorReader reader(info.dtype, what);
    s = reader.read_whole(data);
    if (!s.ok()) return s;
    int64_t expected = 0;
    try {
      expected = num_elements(in->shape);
    } catch (const Error& e) {
      return invalid(what + ": " + e.what());
    }
    if (reader.size() != expected)
      return invalid(fmt::format("{}: \"data\" has {} elements, shape {} needs {}", what, reader.size(),
                                 dims_to_string(in->shape), expected));
    try {
      in->tensor = reader.finish(in->shape);
    } catch (const Error& e) {
      return Status::from_error(e);
    }
  } else if (!in->binary_size) {
    return invalid(what + ": \"data\" is required (or \"parameters\": {\"binary_data_size\": N} with binary data)");
  }
  return Status();
}

Status tensor_from_binary(const ParsedInput& in, const TensorInfo& info, std::string_view bytes, const std::string& what,
                          const std::shared_ptr<void>& body_owner, Tensor* out) {
  int64_t n = 0;
  try {
    n = num_elements(in.shape);
  } catch (const Error& e) {
    return invalid(what + ": " + e.what());
  }
  const size_t need = static_cast<size_t>(n) * dtype_size(info.dtype);
  if (bytes.size() != need)
    return invalid(fmt::format("{}: binary data has {} bytes, shape {} of {} needs {}", what, bytes.size(),
                               dims_to_string(in.shape), in.datatype, need));
  // The body's buffer is aligned for this by the transport (http_server.cc): share it.
  if (body_owner && reinterpret_cast<uintptr_t>(bytes.data()) % 64 == 0) {
    *out = Tensor::wrap(info.dtype, in.shape, const_cast<char*>(bytes.data()), body_owner);
    return Status();
  }
  Tensor t = uninitialized_tensor(info.dtype, in.shape);
  if (need) std::memcpy(t.raw(), bytes.data(), need);
  *out = std::move(t);
  return Status();
}

// BYTES elements in binary form: each a 4-byte little-endian length, then the bytes.
Status bytes_from_binary(std::string_view bytes, const std::string& what, InputAssembler& assembler) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 4) return invalid(what + ": truncated BYTES element length");
    const uint32_t len = static_cast<uint8_t>(bytes[pos]) | (static_cast<uint8_t>(bytes[pos + 1]) << 8) |
                         (static_cast<uint8_t>(bytes[pos + 2]) << 16) |
                         (static_cast<uint32_t>(static_cast<uint8_t>(bytes[pos + 3])) << 24);
    pos += 4;
    if (len > bytes.size() - pos) return invalid(what + ": truncated BYTES element");
    Status s = assembler.add_encoded_image(bytes.substr(pos, len));
    if (!s.ok()) return s;
    pos += len;
  }
  return Status();
}

// Pixels sent as [N, H, W, 3] numbers to an image model with another input shape (for a
// pixel model: a UINT8 tensor of another image size, resized and cropped to the model's).
Status pixels_to_image_rows(const Tensor& pixels, const TensorInfo& info, const ImageInputSpec& image,
                            const std::string& what, Tensor* out) {
  Dims dims = info.dims;
  dims[0] = pixels.dim(0);
  Tensor t(image.row_dtype(), dims);
  for (int64_t r = 0; r < pixels.dim(0); ++r) {
    Dims row_dims(pixels.dims().begin() + 1, pixels.dims().end());
    const int64_t per = num_elements(row_dims);
    Tensor one(pixels.dtype(), row_dims);
    std::memcpy(one.raw(), static_cast<const char*>(pixels.raw()) + r * per * dtype_size(pixels.dtype()),
                static_cast<size_t>(per) * dtype_size(pixels.dtype()));
    Status s = pixel_tensor_to_row(image, one, fmt::format("{} row {}", what, r),
                                   static_cast<char*>(t.raw()) + static_cast<size_t>(r) * image.row_bytes());
    if (!s.ok()) return s;
  }
  *out = std::move(t);
  return Status();
}

Status parse_kserve_infer_unchecked(std::string_view body, std::optional<size_t> header_length,
                          const std::vector<TensorInfo>& inputs, const ImageInputSpec& image, KServeInferRequest* out,
                          const std::shared_ptr<void>& body_owner) {
  std::string_view json = body, binary;
  if (header_length) {
    if (*header_length > body.size())
      return invalid(fmt::format("Inference-Header-Content-Length {} is larger than the body ({} bytes)",
                                 *header_length, body.size()));
    json = body.substr(0, *header_length);
    binary = body.substr(*header_length);
  }
  simdjson::padded_string padded(json);
  // The on-demand parser validates lazily, and field lookups in any order on a malformed
  // document are not safe; one DOM pass first rejects malformed JSON (and costs little
  // next to building the tensors).
  thread_local simdjson::dom::parser validator;
  if (auto e = validator.parse(padded).error()) return json_error(e);
  thread_local od::parser parser;
  od::document doc;
  if (auto e = parser.iterate(padded).get(doc)) return json_error(e);
  od::object root;
  if (auto e = doc.get_object().get(root))
    return e == simdjson::INCORRECT_TYPE ? invalid("the request body must be a JSON object") : json_error(e);

  std::optional<od::value> field;
  if (Status s = optional_field(root, "id", &field); !s.ok()) return s;
  if (field) {
    std::string_view id;
    if (field->get_string().get(id)) return invalid("\"id\" must be a string");
    out->id = std::string(id);
  }
  field.reset();
  if (Status s = optional_field(root, "parameters", &field); !s.ok()) return s;
  if (field) {
    od::object pobj;
    if (field->get_object().get(pobj)) return invalid("\"parameters\" must be an object");
    std::optional<od::value> flag;
    if (Status s = optional_field(pobj, "binary_data_output", &flag); !s.ok()) return s;
    bool b = false;
    if (flag && flag->get_bool().get(b)) return invalid("\"binary_data_output\" must be true or false");
    out->binary_data_output = b;
  }

  od::array input_list;
  {
    od::value v;
    const auto e = root.find_field_unordered("inputs").get(v);
    if (e == simdjson::NO_SUCH_FIELD) return invalid("\"inputs\" (a list of tensors) is required");
    if (e) return json_error(e);
    if (v.get_array().get(input_list)) return invalid("\"inputs\" must be a list of tensors");
  }
  std::vector<ParsedInput> parsed;
  std::vector<std::unique_ptr<InputAssembler>> bytes(inputs.size());
  size_t position = 0;
  for (auto e : input_list) {
    od::value v;
    if (e.get(v)) return invalid("malformed JSON in \"inputs\"");
    ParsedInput in;
    std::unique_ptr<InputAssembler> assembler;
    Status s = parse_input(v, inputs, image, position++, &in, &assembler);
    if (!s.ok()) return s;
    for (const auto& p : parsed)
      if (p.index == in.index) return invalid(fmt::format("input \"{}\" given twice", inputs[in.index].name));
    if (assembler) bytes[in.index] = std::move(assembler);
    parsed.push_back(std::move(in));
  }

  field.reset();
  if (Status s = optional_field(root, "outputs", &field); !s.ok()) return s;
  if (field) {
    od::array arr;
    if (field->get_array().get(arr)) return invalid("\"outputs\" must be a list");
    for (auto e : arr) {
      od::object o;
      if (e.get_object().get(o)) return invalid("each requested output must be an object");
      std::string_view name;
      if (o.find_field_unordered("name").get_string().get(name)) return invalid("requested outputs need a \"name\"");
      KServeRequestedOutput r;
      r.name = std::string(name);
      r.binary = out->binary_data_output;
      std::optional<od::value> p;
      if (Status s = optional_field(o, "parameters", &p); !s.ok()) return s;
      if (p) {
        od::object pobj;
        if (p->get_object().get(pobj)) return invalid("an output's \"parameters\" must be an object");
        std::optional<od::value> flag;
        if (Status s = optional_field(pobj, "binary_data", &flag); !s.ok()) return s;
        bool b = false;
        if (flag) {
          if (flag->get_bool().get(b)) return invalid("\"binary_data\" must be true or false");
          r.binary = b;
        }
      }
      out->outputs.push_back(std::move(r));
    }
  }

  // Binary sections follow the JSON in the order of the inputs that announced them.
  size_t offset = 0;
  out->inputs.assign(inputs.size(), Tensor());
  for (auto& in : parsed) {
    const TensorInfo& info = inputs[static_cast<size_t>(in.index)];
    const std::string what = fmt::format("input \"{}\"", info.name);
    if (in.binary_size) {
      if (binary.size() - offset < *in.binary_size)
        return invalid(fmt::format("{}: binary data truncated: {} bytes announced, {} left in the body", what,
                                   *in.binary_size, binary.size() - offset));
      const std::string_view slice = binary.substr(offset, *in.binary_size);
      offset += *in.binary_size;
      Status s = bytes[in.index] ? bytes_from_binary(slice, what, *bytes[in.index])
                                 : tensor_from_binary(in, info, slice, what, body_owner, &in.tensor);
      if (!s.ok()) return s;
    }
    if (bytes[in.index]) {
      if (bytes[in.index]->rows() != (in.shape.empty() ? 1 : in.shape[0]))
        return invalid(fmt::format("{}: shape {} announces {} images, the data holds {}", what,
                                   dims_to_string(in.shape), in.shape.empty() ? 1 : in.shape[0],
                                   bytes[in.index]->rows()));
      Status s = bytes[in.index]->finish(&in.tensor);
      if (!s.ok()) return s;
    } else if (image.enabled && in.index == 0 && in.tensor.rank() == 4 && in.tensor.dim(3) == 3 &&
               !std::equal(info.dims.begin() + 1, info.dims.end(), in.tensor.dims().begin() + 1)) {
      Tensor rows;
      Status s = pixels_to_image_rows(in.tensor, info, image, what, &rows);
      if (!s.ok()) return s;
      in.tensor = std::move(rows);
    }
    out->inputs[static_cast<size_t>(in.index)] = std::move(in.tensor);
  }
  if (offset != binary.size())
    return invalid(fmt::format("the body has {} bytes of binary data after the JSON header, the inputs announce {}",
                               binary.size(), offset));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (out->inputs[i].empty()) return invalid(fmt::format("missing input \"{}\"", inputs[i].name));
  return Status();
}

}  // namespace

// The parsers are meant never to throw; this keeps an unforeseen library exception
// (allocation failure on a huge request, say) a 4xx/5xx answer rather than a crash.
Status parse_kserve_infer(std::string_view body, std::optional<size_t> header_length,
                          const std::vector<TensorInfo>& inputs, const ImageInputSpec& image, KServeInferRequest* out,
                          std::shared_ptr<void> body_owner) {
  try {
    return parse_kserve_infer_unchecked(body, header_length, inputs, image, out, body_owner);
  } catch (const Error& e) {
    return Status::from_error(e);
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kResourceExhausted, "out of memory while parsing the request");
  } catch (const std::exception& e) {
    return Status(ErrorCode::kInternal, std::string("while parsing the request: ") + e.what());
  }
}

HttpResponse write_kserve_infer_response(const std::string& model, int64_t version, const KServeInferRequest& request,
                                         const std::vector<TensorInfo>& outputs, const std::vector<Tensor>& values) {
  std::vector<std::pair<size_t, bool>> selected;  // output index, binary
  if (request.outputs.empty()) {
    for (size_t o = 0; o < outputs.size(); ++o) selected.push_back({o, request.binary_data_output});
  } else {
    for (const auto& r : request.outputs) {
      size_t o = 0;
      while (o < outputs.size() && outputs[o].name != r.name) ++o;
      if (o == outputs.size()) return error_response(400, fmt::format("unknown output \"{}\" requested", r.name));
      selected.push_back({o, r.binary});
    }
  }
  JsonWriter w;
  std::string binary;
  w.raw("{\"model_name\":");
  w.string(model);
  w.raw(",\"model_version\":");
  w.string(std::to_string(version));
  if (!request.id.empty()) {
    w.raw(",\"id\":");
    w.string(request.id);
  }
  w.raw(",\"outputs\":[");
  bool first = true;
  for (auto [o, as_binary] : selected) {
    const Tensor& t = values[o];
    w.comma(first);
    w.raw("{\"name\":");
    w.string(outputs[o].name);
    w.raw(",\"datatype\":");
    w.string(kserve_dtype_name(t.dtype()));
    w.raw(",\"shape\":[");
    for (int64_t d = 0; d < t.rank(); ++d) {
      if (d) w.raw(",");
      w.number(t.dims()[d]);
    }
    w.raw("]");
    if (as_binary) {
      w.raw(",\"parameters\":{\"binary_data_size\":");
      w.number(static_cast<uint64_t>(t.nbytes()));
      w.raw("}}");
      binary.append(static_cast<const char*>(t.raw()), t.nbytes());
    } else {
      w.raw(",\"data\":");
      write_flat(w, t);
      w.raw("}");
    }
  }
  w.raw("]}");
  HttpResponse r;
  r.body = w.take();
  if (!binary.empty() || std::any_of(selected.begin(), selected.end(), [](auto s) { return s.second; })) {
    r.headers.push_back({"Inference-Header-Content-Length", std::to_string(r.body.size())});
    r.content_type = "application/octet-stream";
    r.body += binary;
  }
  return r;
}

namespace {

HttpResponse json_ok(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

void write_tensor_list(JsonWriter& w, const std::vector<TensorInfo>& tensors) {
  w.raw("[");
  bool first = true;
  for (const auto& t : tensors) {
    w.comma(first);
    w.raw("{\"name\":");
    w.string(t.name);
    w.raw(",\"datatype\":");
    w.string(kserve_dtype_name(t.dtype));
    w.raw(",\"shape\":[");
    for (size_t d = 0; d < t.dims.size(); ++d) {
      if (d) w.raw(",");
      w.number(t.dims[d]);
    }
    w.raw("]");
    w.raw("}");
  }
  w.raw("]");
}

std::string model_metadata_json(const ModelRepository& repo, const ServedVersion& v) {
  JsonWriter w;
  w.raw("{\"name\":");
  w.string(v.model_name());
  w.raw(",\"versions\":[");
  std::vector<VersionState> states;
  repo.states(v.model_name(), std::nullopt, "", &states);
  bool first = true;
  for (auto it = states.rbegin(); it != states.rend(); ++it) {
    if (it->state != "AVAILABLE") continue;
    w.comma(first);
    w.string(std::to_string(it->version));
  }
  w.raw("],\"platform\":\"kiln\",\"inputs\":");
  write_tensor_list(w, v.inputs());
  w.raw(",\"outputs\":");
  write_tensor_list(w, v.outputs());
  // Clients that resize images themselves (pixel payloads) must resize as the server would.
  if (v.image_spec().enabled) {
    w.raw(",\"parameters\":{");
    w.key(image::kPreprocessMetadataKey);
    w.string(image::preprocess_to_json(v.image_spec().preprocess));
    w.raw("}");
  }
  w.raw("}");
  return w.take();
}

}  // namespace

void handle_kserve(const ServingContext& ctx, const HttpRequest& request, Clock::time_point received,
                   Responder respond) {
  const std::string_view path = path_of(request.target);
  std::vector<std::string_view> parts;
  for (size_t start = 1; start <= path.size();) {
    const size_t slash = std::min(path.find('/', start), path.size());
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  if (!parts.empty() && parts.back().empty() && parts.size() > 1) parts.pop_back();  // trailing slash
  const bool get = request.method == "GET", post = request.method == "POST";
  auto wrong_method = [&] {
    respond(error_response(405, fmt::format("{} does not accept {}", path, request.method)));
  };
  // parts[0] == "v2"
  if (parts.size() == 1) {
    if (!get) return wrong_method();
    return respond(json_ok(
        "{\"name\":\"kiln\",\"version\":\"0.1.0\",\"extensions\":[\"binary_tensor_data\",\"model_repository\"]}"));
  }
  if (parts.size() == 3 && parts[1] == "health") {
    if (!get) return wrong_method();
    if (parts[2] == "live") return respond(json_ok("{\"live\":true}"));
    if (parts[2] == "ready") {
      const bool ready = ctx.repository->all_ready();
      HttpResponse r = json_ok(ready ? "{\"ready\":true}" : "{\"ready\":false}");
      if (!ready) r.status = 503;
      return respond(r);
    }
  }
  if (parts.size() < 3 || parts[1] != "models" || parts[2].empty())
    return respond(error_response(404, fmt::format("Malformed request: {} {}", request.method, path)));

  VersionLookup lookup;
  lookup.model = std::string(parts[2]);
  size_t next = 3;
  if (next + 1 < parts.size() && parts[next] == "versions") {
    int64_t v = 0;
    const auto sv = parts[next + 1];
    auto r = std::from_chars(sv.data(), sv.data() + sv.size(), v);
    if (r.ec != std::errc() || r.ptr != sv.data() + sv.size() || v < 0)
      return respond(error_response(400, fmt::format("version \"{}\" is not a number", sv)));
    lookup.version = v;
    next += 2;
  }
  std::string_view action = next < parts.size() ? parts[next] : "";
  if (next + 1 < parts.size() || (action != "" && action != "ready" && action != "infer"))
    return respond(error_response(404, fmt::format("Malformed request: {} {}", request.method, path)));

  Status s;
  auto version = ctx.repository->find(lookup.model, lookup.version, "", &s);
  if (action == "ready") {
    if (!get) return wrong_method();
    std::vector<VersionState> states;
    Status known = ctx.repository->states(lookup.model, lookup.version, "", &states);
    if (!known.ok()) return respond(error_response(known));
    JsonWriter w;
    w.raw("{\"name\":");
    w.string(lookup.model);
    w.raw(",\"ready\":");
    w.boolean(version != nullptr);
    w.raw("}");
    HttpResponse r = json_ok(w.take());
    if (!version) r.status = 503;
    return respond(r);
  }
  if (action.empty()) {
    if (!get) return wrong_method();
    if (!version) return respond(error_response(s));
    return respond(json_ok(model_metadata_json(*ctx.repository, *version)));
  }
  if (!post) return wrong_method();
  if (!version) {
    count_failed_request(ctx, lookup.model, s);
    return respond(error_response(s));
  }
  auto parsed = std::make_shared<KServeInferRequest>();
  s = parse_kserve_infer(request.payload(), request.inference_header_length, version->inputs(),
                         version->image_spec(), parsed.get(), request.body_owner);
  if (s.ok()) s = version->check_inputs(parsed->inputs);
  if (s.ok())
    for (const auto& o : parsed->outputs) {
      bool known = false;
      for (const auto& info : version->outputs()) known = known || info.name == o.name;
      if (!known) s = invalid(fmt::format("unknown output \"{}\" requested", o.name));
    }
  if (!s.ok()) {
    count_failed_request(ctx, lookup.model, s);
    return respond(error_response(s));
  }
  std::vector<Tensor> inputs = std::move(parsed->inputs);
  run_inference(ctx, lookup, version, std::move(inputs), received,
                [parsed, respond](const std::shared_ptr<ServedVersion>& ran, InferenceResult r) {
                  if (!r.status.ok()) return respond(error_response(r.status));
                  respond(write_kserve_infer_response(ran->model_name(), ran->version(), *parsed, ran->outputs(),
                                                      r.outputs));
                });
}

}  // namespace kiln::server
