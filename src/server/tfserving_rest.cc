#include "server/tfserving_rest.h"

#include <simdjson.h>

#include <charconv>

#include "server/base64.h"
#include "server/input_assembler.h"
#include "server/json_writer.h"
#include "server/model_repository.h"
#include "server/numeric_json_fast_path.h"
#include "server/protocol_names.h"
#include "server/tensor_json.h"

namespace kiln::server {

namespace od = simdjson::ondemand;

namespace {

Status invalid(std::string message) { return Status(ErrorCode::kInvalidArgument, std::move(message)); }

Status json_error(simdjson::error_code e) {
  return invalid(fmt::format("malformed JSON request: {}", simdjson::error_message(e)));
}

int input_named(const std::vector<TensorInfo>& inputs, std::string_view name) {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].name == name) return static_cast<int>(i);
  return -1;
}

std::string input_names(const std::vector<TensorInfo>& inputs) {
  std::string s;
  for (const auto& i : inputs) s += (s.empty() ? "\"" : ", \"") + i.name + "\"";
  return s;
}

// Row format: a list of instances, each a value of the single input or an object of named inputs.
Status read_instances(od::value list, const std::vector<TensorInfo>& inputs, std::vector<InputAssembler>& assemblers) {
  od::array array;
  if (list.get_array().get(array)) return invalid("\"instances\" must be a list");
  int64_t index = 0;
  for (auto element : array) {
    od::value instance;
    if (element.get(instance)) return invalid("malformed JSON in \"instances\"");
    od::json_type type;
    if (instance.type().get(type)) return invalid("malformed JSON in \"instances\"");
    if (type != od::json_type::object) {
      if (inputs.size() != 1)
        return invalid(fmt::format("instances[{}]: the model has {} inputs ({}); give each instance as an object "
                                   "naming them", index, inputs.size(), input_names(inputs)));
      Status s = assemblers[0].add_row(instance);
      if (!s.ok()) return s;
    } else {
      od::object obj;
      if (instance.get_object().get(obj)) return invalid("malformed JSON object in \"instances\"");
      for (auto field : obj) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return invalid("malformed JSON key in \"instances\"");
        if (key == "b64" && inputs.size() == 1) {
          std::string_view text;
          if (field.value().get_string().get(text))
            return invalid(fmt::format("instances[{}]: \"b64\" must be a base64 string", index));
          auto bytes = base64_decode(text);
          if (!bytes) return invalid(fmt::format("instances[{}]: \"b64\" is not valid base64", index));
          Status s = assemblers[0].add_encoded_image(*bytes);
          if (!s.ok()) return s;
          continue;
        }
        const int i = input_named(inputs, key);
        if (i < 0)
          return invalid(fmt::format("instances[{}]: unknown input \"{}\" (the model's inputs: {})", index, key,
                                     input_names(inputs)));
        if (assemblers[i].rows() != index)
          return invalid(fmt::format("instances[{}]: input \"{}\" given twice", index, key));
        od::value v;
        if (field.value().get(v)) return invalid("malformed JSON in \"instances\"");
        Status s = assemblers[i].add_row(v);
        if (!s.ok()) return s;
      }
    }
    ++index;
    for (size_t i = 0; i < inputs.size(); ++i)
      if (assemblers[i].rows() != index)
        return invalid(fmt::format("instances[{}]: missing input \"{}\"", index - 1, inputs[i].name));
  }
  if (index == 0) return invalid("\"instances\" is empty");
  return Status();
}

// Columnar format: the single input's batch, or an object of named inputs' batches.
Status read_columnar(od::value value, const std::vector<TensorInfo>& inputs, std::vector<InputAssembler>& assemblers) {
  od::json_type type;
  if (value.type().get(type)) return invalid("malformed JSON in \"inputs\"");
  if (type != od::json_type::object) {
    if (inputs.size() != 1)
      return invalid(fmt::format("the model has {} inputs ({}); give \"inputs\" as an object naming them",
                                 inputs.size(), input_names(inputs)));
    if (type != od::json_type::array) return invalid("\"inputs\" must be a list (one element per batch row)");
    return assemblers[0].add_rows(value);
  }
  od::object obj;
  if (value.get_object().get(obj)) return invalid("malformed JSON object in \"inputs\"");
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return invalid("malformed JSON key in \"inputs\"");
    const int i = input_named(inputs, key);
    if (i < 0)
      return invalid(fmt::format("\"inputs\": unknown input \"{}\" (the model's inputs: {})", key, input_names(inputs)));
    if (assemblers[i].rows() != 0) return invalid(fmt::format("\"inputs\": input \"{}\" given twice", key));
    od::value v;
    if (field.value().get(v)) return invalid("malformed JSON in \"inputs\"");
    Status s = assemblers[i].add_rows(v);
    if (!s.ok()) return s;
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    if (assemblers[i].rows() == 0) return invalid(fmt::format("\"inputs\": missing input \"{}\"", inputs[i].name));
  return Status();
}

Status parse_tf_predict_unchecked(std::string_view body, const std::vector<TensorInfo>& inputs, const ImageInputSpec& image,
                        TfPredictRequest* out) {
  // Most numeric traffic is one float tensor as plain nested lists: scan it directly.
  {
    Tensor tensor;
    bool columnar = false;
    Status rejected;
    switch (parse_numeric_predict_fast(body, inputs, image, &tensor, &columnar, &rejected)) {
      case FastPathOutcome::kParsed:
        out->format = columnar ? TfRequestFormat::kColumnar : TfRequestFormat::kRow;
        out->inputs.clear();
        out->inputs.push_back(std::move(tensor));
        return Status();
      case FastPathOutcome::kRejected: return rejected;
      case FastPathOutcome::kDeclined: break;
    }
  }
  thread_local od::parser parser;
  simdjson::padded_string padded(body);
  od::document doc;
  if (auto e = parser.iterate(padded).get(doc)) return json_error(e);
  od::object root;
  if (auto e = doc.get_object().get(root))
    return e == simdjson::INCORRECT_TYPE ? invalid("the request body must be a JSON object") : json_error(e);

  std::vector<InputAssembler> assemblers;
  assemblers.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    assemblers.emplace_back(inputs[i], i == 0 ? &image : nullptr, fmt::format("input \"{}\"", inputs[i].name));

  bool saw_instances = false, saw_inputs = false;
  for (auto field : root) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return json_error(e);
    if (key == "signature_name") {
      std::string_view sig;
      if (field.value().get_string().get(sig)) return invalid("\"signature_name\" must be a string");
      if (!sig.empty() && sig != "serving_default")
        return invalid(fmt::format("Serving signature name: \"{}\" not found in signature def", sig));
    } else if (key == "instances" || key == "inputs") {
      if (saw_instances || saw_inputs)
        return invalid(key == (saw_instances ? "instances" : "inputs")
                           ? fmt::format("\"{}\" given twice", key)
                           : "Both \"instances\" and \"inputs\" cannot be specified at the same time");
      od::value v;
      if (auto e = field.value().get(v)) return json_error(e);
      Status s = key == "instances" ? read_instances(v, inputs, assemblers) : read_columnar(v, inputs, assemblers);
      if (!s.ok()) return s;
      (key == "instances" ? saw_instances : saw_inputs) = true;
    } else {
      // Unknown top-level keys are skipped, as TF Serving does.
      od::value skipped;
      if (auto e = field.value().get(skipped)) return json_error(e);
    }
  }
  if (!saw_instances && !saw_inputs) return invalid("Missing \"instances\" or \"inputs\" key");
  out->format = saw_instances ? TfRequestFormat::kRow : TfRequestFormat::kColumnar;
  out->inputs.clear();
  for (auto& a : assemblers) {
    Tensor t;
    Status s = a.finish(&t);
    if (!s.ok()) return s;
    out->inputs.push_back(std::move(t));
  }
  return Status();
}

}  // namespace

// The parsers are meant never to throw; this keeps an unforeseen library exception
// (allocation failure on a huge request, say) a 4xx/5xx answer rather than a crash.
Status parse_tf_predict(std::string_view body, const std::vector<TensorInfo>& inputs, const ImageInputSpec& image,
                        TfPredictRequest* out) {
  try {
    return parse_tf_predict_unchecked(body, inputs, image, out);
  } catch (const Error& e) {
    return Status::from_error(e);
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kResourceExhausted, "out of memory while parsing the request");
  } catch (const std::exception& e) {
    return Status(ErrorCode::kInternal, std::string("while parsing the request: ") + e.what());
  }
}

std::string write_tf_predict_response(TfRequestFormat format, const std::vector<TensorInfo>& outputs,
                                      const std::vector<Tensor>& values) {
  JsonWriter w;
  w.out().reserve(64 + (values.empty() ? 0 : static_cast<size_t>(values[0].numel()) * 12));
  if (format == TfRequestFormat::kColumnar) {
    w.raw("{\"outputs\":");
    if (values.size() == 1) {
      write_nested(w, values[0]);
    } else {
      w.raw("{");
      for (size_t o = 0; o < values.size(); ++o) {
        if (o) w.raw(",");
        w.key(outputs[o].name);
        write_nested(w, values[o]);
      }
      w.raw("}");
    }
    w.raw("}");
    return w.take();
  }
  w.raw("{\"predictions\":[");
  const int64_t rows = values.empty() || values[0].rank() == 0 ? 0 : values[0].dim(0);
  for (int64_t r = 0; r < rows; ++r) {
    if (r) w.raw(",");
    if (values.size() == 1) {
      write_nested(w, values[0], r, 1, false);
    } else {
      w.raw("{");
      for (size_t o = 0; o < values.size(); ++o) {
        if (o) w.raw(",");
        w.key(outputs[o].name);
        write_nested(w, values[o], r, 1, false);
      }
      w.raw("}");
    }
  }
  w.raw("]}");
  return w.take();
}

namespace {

HttpResponse json_ok(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

void write_status(JsonWriter& w, const std::vector<VersionState>& states) {
  w.raw("{\"model_version_status\":[");
  bool first = true;
  for (const auto& s : states) {
    w.comma(first);
    w.raw("{\"version\":");
    w.string(std::to_string(s.version));
    w.raw(",\"state\":");
    w.string(s.state);
    w.raw(",\"status\":{\"error_code\":");
    w.string(tf_error_code_name(s.status.code()));
    w.raw(",\"error_message\":");
    w.string(s.status.message());
    w.raw("}}");
  }
  w.raw("]}");
}

void write_tensor_map(JsonWriter& w, const std::vector<TensorInfo>& tensors) {
  w.raw("{");
  bool first = true;
  for (const auto& t : tensors) {
    w.comma(first);
    w.key(t.name);
    w.raw("{\"dtype\":");
    w.string(tf_dtype_name(t.dtype));
    w.raw(",\"tensor_shape\":{\"dim\":[");
    bool first_dim = true;
    for (int64_t d : t.dims) {
      w.comma(first_dim);
      w.raw("{\"size\":");
      w.string(std::to_string(d));
      w.raw(",\"name\":\"\"}");
    }
    w.raw("],\"unknown_rank\":false},\"name\":");
    w.string(t.name);
    w.raw("}");
  }
  w.raw("}");
}

std::string metadata_json(const ServedVersion& v) {
  JsonWriter w;
  w.raw("{\"model_spec\":{\"name\":");
  w.string(v.model_name());
  w.raw(",\"signature_name\":\"\",\"version\":");
  w.string(std::to_string(v.version()));
  w.raw("},\"metadata\":{\"signature_def\":{\"signature_def\":{\"serving_default\":{\"inputs\":");
  write_tensor_map(w, v.inputs());
  w.raw(",\"outputs\":");
  write_tensor_map(w, v.outputs());
  w.raw(",\"method_name\":\"tensorflow/serving/predict\"}}}");
  // Clients that resize images themselves (pixel payloads) must resize as the server would.
  if (v.image_spec().enabled) {
    w.raw(",\"parameters\":{");
    w.key(image::kPreprocessMetadataKey);
    w.string(image::preprocess_to_json(v.image_spec().preprocess));
    w.raw("}");
  }
  w.raw("}}");
  return w.take();
}

bool parse_version(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && *out >= 0;
}

}  // namespace

void handle_tfserving(const ServingContext& ctx, const HttpRequest& request, Clock::time_point received,
                      Responder respond) {
  std::string_view path = path_of(request.target);
  constexpr std::string_view kPrefix = "/v1/models/";
  if (path.substr(0, kPrefix.size()) != kPrefix) {
    respond(error_response(404, fmt::format("Malformed request: {} {}", request.method, path)));
    return;
  }
  path.remove_prefix(kPrefix.size());
  // A trailing ":verb" names the method; the rest is name[/versions/N | /labels/L][/metadata].
  std::string verb;
  const size_t colon = path.rfind(':');
  if (colon != std::string_view::npos && path.find('/', colon) == std::string_view::npos) {
    verb = std::string(path.substr(colon + 1));
    path = path.substr(0, colon);
  }
  std::vector<std::string_view> parts;
  for (size_t start = 0; start <= path.size();) {
    const size_t slash = std::min(path.find('/', start), path.size());
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  VersionLookup lookup;
  lookup.model = std::string(parts[0]);
  size_t next = 1;
  bool metadata = false;
  bool malformed = lookup.model.empty();
  if (!malformed && next < parts.size() && (parts[next] == "versions" || parts[next] == "labels")) {
    if (next + 1 >= parts.size()) {
      malformed = true;
    } else if (parts[next] == "versions") {
      int64_t v = 0;
      if (!parse_version(parts[next + 1], &v)) {
        respond(error_response(400, fmt::format("Malformed request: version \"{}\" is not a number", parts[next + 1])));
        return;
      }
      lookup.version = v;
    } else {
      lookup.label = std::string(parts[next + 1]);
    }
    next += 2;
  }
  if (!malformed && next < parts.size()) {
    if (parts[next] == "metadata" && next + 1 == parts.size()) metadata = true;
    else malformed = true;
  }
  if (malformed || (metadata && !verb.empty())) {
    respond(error_response(404, fmt::format("Malformed request: {} {}", request.method, request.target)));
    return;
  }

  if (verb.empty()) {
    if (request.method != "GET") {
      respond(error_response(405, fmt::format("{} needs GET, not {}", request.target, request.method)));
      return;
    }
    if (!metadata) {
      std::vector<VersionState> states;
      Status s = ctx.repository->states(lookup.model, lookup.version, lookup.label, &states);
      if (!s.ok()) return respond(error_response(s));
      JsonWriter w;
      write_status(w, states);
      return respond(json_ok(w.take()));
    }
    Status s;
    auto version = ctx.repository->find(lookup.model, lookup.version, lookup.label, &s);
    if (!version) return respond(error_response(s));
    return respond(json_ok(metadata_json(*version)));
  }

  if (request.method != "POST") {
    respond(error_response(405, fmt::format("{} needs POST, not {}", request.target, request.method)));
    return;
  }
  if (verb != "predict" && verb != "classify" && verb != "regress") {
    respond(error_response(404, fmt::format("Malformed request: unknown method \":{}\" (use :predict)", verb)));
    return;
  }
  Status s;
  auto version = ctx.repository->find(lookup.model, lookup.version, lookup.label, &s);
  if (!version) {
    count_failed_request(ctx, lookup.model, s);
    return respond(error_response(s));
  }
  if (verb != "predict") {
    // Served models carry only a predict signature ("serving_default").
    const std::string kind = verb == "classify" ? "classification" : "regression";
    Status err(ErrorCode::kInvalidArgument,
               fmt::format("Expected {} signature method_name to be tensorflow/serving/{}. Was: "
                           "tensorflow/serving/predict (model \"{}\" has no {} signature)",
                           kind, verb, lookup.model, kind));
    count_failed_request(ctx, lookup.model, err);
    return respond(error_response(err));
  }
  TfPredictRequest parsed;
  s = parse_tf_predict(request.payload(), version->inputs(), version->image_spec(), &parsed);
  if (s.ok()) s = version->check_inputs(parsed.inputs);
  if (!s.ok()) {
    count_failed_request(ctx, lookup.model, s);
    return respond(error_response(s));
  }
  const TfRequestFormat format = parsed.format;
  run_inference(ctx, lookup, version, std::move(parsed.inputs), received,
                [format, respond](const std::shared_ptr<ServedVersion>& ran, InferenceResult r) {
                  if (!r.status.ok()) return respond(error_response(r.status));
                  respond(json_ok(write_tf_predict_response(format, ran->outputs(), r.outputs)));
                });
}

}  // namespace kiln::server
