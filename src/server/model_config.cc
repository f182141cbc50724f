#include "server/model_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "engine/engine.h"

namespace kiln::server {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail_with(ErrorCode::kNotFound, "{}: cannot open", path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

int64_t parse_int(const std::string& text, const std::string& what) {
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  fail("{}: '{}' is not an integer", what, text);
}

template <typename T>
T get_number(const json& j, const char* key, const std::string& what, T lo, T hi) {
  const json& v = j.at(key);
  if (!v.is_number_integer()) fail("{}: \"{}\" must be an integer", what, key);
  const auto x = v.get<int64_t>();
  if (x < static_cast<int64_t>(lo) || x > static_cast<int64_t>(hi))
    fail("{}: \"{}\" = {} is outside {}..{}", what, key, x, lo, hi);
  return static_cast<T>(x);
}

void apply_json(const json& j, const std::string& what, ModelConfig* c) {
  if (!j.is_object()) fail("{}: expected a JSON object", what);
  static const char* kKnown[] = {"name", "base_path", "max_batch_size", "batch_timeout_micros",
                                 "preferred_batch_sizes", "max_queue_size", "request_timeout_micros",
                                 "precision", "device", "gpus", "image_input", "instances_per_device",
                                 "model_version_policy", "version_labels", "model_platform"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(std::begin(kKnown), std::end(kKnown), it.key()) == std::end(kKnown))
      fail("{}: unknown field \"{}\"", what, it.key());
  if (j.contains("name")) {
    if (!j["name"].is_string() || j["name"].get<std::string>().empty()) fail("{}: \"name\" must be a string", what);
    c->name = j["name"].get<std::string>();
  }
  if (j.contains("base_path")) {
    if (!j["base_path"].is_string()) fail("{}: \"base_path\" must be a string", what);
    c->base_path = j["base_path"].get<std::string>();
  }
  if (j.contains("max_batch_size")) c->max_batch_size = get_number<int>(j, "max_batch_size", what, 1, 1 << 16);
  if (j.contains("batch_timeout_micros"))
    c->batch_timeout_micros = get_number<int64_t>(j, "batch_timeout_micros", what, 0, 60'000'000);
  if (j.contains("max_queue_size")) c->max_queue_size = get_number<int>(j, "max_queue_size", what, 1, 1 << 24);
  if (j.contains("request_timeout_micros"))
    c->request_timeout_micros = get_number<int64_t>(j, "request_timeout_micros", what, 0, int64_t{1} << 40);
  if (j.contains("instances_per_device"))
    c->instances_per_device = get_number<int>(j, "instances_per_device", what, 1, 64);
  if (j.contains("preferred_batch_sizes")) {
    const json& p = j["preferred_batch_sizes"];
    if (!p.is_array()) fail("{}: \"preferred_batch_sizes\" must be a list of integers", what);
    c->preferred_batch_sizes.clear();
    for (const json& x : p) {
      if (!x.is_number_integer() || x.get<int64_t>() < 1 || x.get<int64_t>() > (1 << 16))
        fail("{}: \"preferred_batch_sizes\" must hold positive integers", what);
      c->preferred_batch_sizes.push_back(x.get<int>());
    }
  }
  for (const char* key : {"precision", "device", "model_platform"}) {
    if (j.contains(key) && !j[key].is_string()) fail("{}: \"{}\" must be a string", what, key);
  }
  if (j.contains("precision")) c->precision = j["precision"].get<std::string>();
  if (j.contains("device")) {
    c->device = j["device"].get<std::string>();
    c->devices.clear();
  }
  if (j.contains("gpus")) {
    if (!j["gpus"].is_string()) fail("{}: \"gpus\" must be a string (\"all\" or \"0,1\")", what);
    c->devices = parse_gpu_list(j["gpus"].get<std::string>());
  }
  if (j.contains("image_input")) {
    if (!j["image_input"].is_boolean()) fail("{}: \"image_input\" must be true or false", what);
    c->image_input = j["image_input"].get<bool>();
  }
  if (j.contains("model_version_policy")) {
    if (!j["model_version_policy"].is_string())
      fail("{}: \"model_version_policy\" must be a string (latest | all | specific:1,2)", what);
    c->version_policy = VersionPolicy::parse(j["model_version_policy"].get<std::string>());
  }
  if (j.contains("version_labels")) {
    const json& l = j["version_labels"];
    if (!l.is_object()) fail("{}: \"version_labels\" must map label names to versions", what);
    for (auto it = l.begin(); it != l.end(); ++it) {
      if (!it.value().is_number_integer()) fail("{}: version label \"{}\" must be an integer", what, it.key());
      c->version_labels[it.key()] = it.value().get<int64_t>();
    }
  }
}

}  // namespace

VersionPolicy VersionPolicy::parse(const std::string& text) {
  VersionPolicy p;
  if (text == "latest") return p;
  if (text.rfind("latest:", 0) == 0) {
    p.latest_count = static_cast<int>(parse_int(text.substr(7), "version policy " + text));
    if (p.latest_count < 1) fail("version policy {}: the count must be at least 1", text);
    return p;
  }
  if (text == "all") {
    p.kind = Kind::kAll;
    return p;
  }
  if (text.rfind("specific:", 0) == 0) {
    p.kind = Kind::kSpecific;
    std::stringstream s(text.substr(9));
    std::string item;
    while (std::getline(s, item, ',')) p.versions.push_back(parse_int(item, "version policy " + text));
    if (p.versions.empty()) fail("version policy {}: list at least one version", text);
    return p;
  }
  fail("unknown version policy '{}' (use latest, latest:N, all or specific:1,2)", text);
}

std::vector<int64_t> VersionPolicy::select(std::vector<int64_t> on_disk) const {
  std::sort(on_disk.begin(), on_disk.end());
  switch (kind) {
    case Kind::kAll: return on_disk;
    case Kind::kLatest: {
      const size_t n = std::min(on_disk.size(), static_cast<size_t>(latest_count));
      return std::vector<int64_t>(on_disk.end() - static_cast<std::ptrdiff_t>(n), on_disk.end());
    }
    case Kind::kSpecific: {
      std::vector<int64_t> out;
      for (int64_t v : on_disk)
        if (std::find(versions.begin(), versions.end(), v) != versions.end()) out.push_back(v);
      return out;
    }
  }
  return {};
}

void apply_config_json(const std::string& json_text, const std::string& what, ModelConfig* config) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    fail("{}: malformed JSON: {}", what, e.what());
  }
  apply_json(j, what, config);
}

void apply_config_file_if_present(const std::string& dir, ModelConfig* config) {
  const fs::path p = fs::path(dir) / "config.json";
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return;
  apply_config_json(read_text(p.string()), p.string(), config);
}

std::vector<ModelConfig> load_model_config_file(const std::string& path, const ModelConfig& defaults) {
  json j;
  try {
    j = json::parse(read_text(path));
  } catch (const json::exception& e) {
    fail("{}: malformed JSON: {}", path, e.what());
  }
  if (j.is_object() && j.contains("model_config_list")) j = j["model_config_list"];
  if (!j.is_array()) fail("{}: expected a JSON list of models ({{\"name\": ..., \"base_path\": ...}})", path);
  std::vector<ModelConfig> out;
  for (size_t i = 0; i < j.size(); ++i) {
    ModelConfig c = defaults;
    const std::string what = fmt::format("{}: model {}", path, i);
    apply_json(j[i], what, &c);
    if (!j[i].contains("name")) fail("{}: \"name\" is required", what);
    if (c.base_path.empty()) fail("{}: \"base_path\" is required", what);
    for (const auto& other : out)
      if (other.name == c.name) fail("{}: model name \"{}\" appears twice", path, c.name);
    out.push_back(std::move(c));
  }
  if (out.empty()) fail("{}: the model list is empty", path);
  return out;
}

std::vector<std::string> parse_gpu_list(const std::string& text) {
  std::vector<std::string> devices;
  if (text == "all") {
    // The CUDA backend refuses devices that do not exist; probe upward until it does.
    for (int i = 0; i < 64; ++i) {
      try {
        make_backend(fmt::format("cuda:{}", i));
      } catch (const Error&) {
        break;
      }
      devices.push_back(fmt::format("cuda:{}", i));
    }
    if (devices.empty()) fail_with(ErrorCode::kUnavailable, "--gpus all: no usable GPU found");
    return devices;
  }
  std::stringstream s(text);
  std::string item;
  while (std::getline(s, item, ',')) {
    const int64_t i = parse_int(item, "--gpus " + text);
    if (i < 0) fail("--gpus {}: GPU indices are non-negative", text);
    devices.push_back(fmt::format("cuda:{}", i));
  }
  if (devices.empty()) fail("--gpus '{}': list GPU indices (0,1) or say all", text);
  return devices;
}

}  // namespace kiln::server
