// How each served model is configured: server-wide defaults from the command line,
// overridden per model by the model config file, overridden per base path / version by
// config.json. All parsing is cold-path and throws kiln::Error naming the file and field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kiln::server {

struct VersionPolicy {
  enum class Kind { kLatest, kAll, kSpecific } kind = Kind::kLatest;
  int latest_count = 1;
  std::vector<int64_t> versions;  // for kSpecific

  // "latest", "latest:2", "all", "specific:1,2"; throws on anything else.
  static VersionPolicy parse(const std::string& text);
  // Which of the versions present on disk to serve.
  std::vector<int64_t> select(std::vector<int64_t> on_disk) const;
};

struct ModelConfig {
  std::string name = "default";
  std::string base_path;
  int max_batch_size = 8;
  int64_t batch_timeout_micros = 1000;
  std::vector<int> preferred_batch_sizes;
  int max_queue_size = 1024;
  int64_t request_timeout_micros = 60'000'000;
  std::string precision = "fp32";
  std::string device = "cpu";           // "cpu", "cuda", "cuda:N"
  std::vector<std::string> devices;     // from --gpus: overrides device when not empty
  std::optional<bool> image_input;      // unset: detect from the input shape
  int instances_per_device = 1;
  VersionPolicy version_policy;
  std::map<std::string, int64_t> version_labels;
};

// Applies the fields present in a JSON object to `config`. `what` names the source.
void apply_config_json(const std::string& json_text, const std::string& what, ModelConfig* config);
// Applies `<dir>/config.json` when it exists.
void apply_config_file_if_present(const std::string& dir, ModelConfig* config);

// The multi-model config file: a JSON list of objects {"name", "base_path", ...fields of
// config.json, "model_version_policy", "version_labels"} (or {"model_config_list": [...]}).
std::vector<ModelConfig> load_model_config_file(const std::string& path, const ModelConfig& defaults);

// "all" or "0,1" (--gpus) into device strings; "all" probes the CUDA backend.
std::vector<std::string> parse_gpu_list(const std::string& text);

}  // namespace kiln::server
