// The models the server knows: for each, the versions found under its base path, their
// states (TF Serving's START / LOADING / AVAILABLE / UNLOADING / END) and the loaded ones.
//
// A poller rescans each base path every `poll_seconds`: versions the policy selects and
// that are new are loaded and warmed up in the poller thread, then published with one
// pointer swap under the lock; versions no longer selected are unpublished and handed to
// an unloader thread, which waits until no request holds them, drains their batcher and
// frees them. A version that fails to load stays listed as END with its error.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/model_config.h"
#include "server/served_version.h"

namespace kiln::server {

class ServerMetrics;

struct VersionState {
  int64_t version = 0;
  std::string state;   // "START", "LOADING", "AVAILABLE", "UNLOADING", "END"
  Status status;       // the load error for END after a failure
};

class ModelRepository {
 public:
  ModelRepository(std::vector<ModelConfig> models, double poll_seconds, ServerMetrics* metrics);
  ~ModelRepository();
  ModelRepository(const ModelRepository&) = delete;
  ModelRepository& operator=(const ModelRepository&) = delete;

  // Scans and loads every model once (blocking), then starts the poller if enabled.
  void start();
  // Stops polling; drains and unloads every version. Idempotent.
  void stop();
  // One synchronous rescan of every base path (the poller calls this).
  void poll_once();

  // The version to run: `version` if given, else the label's, else the newest available.
  // kNotFound with a message when the model, version or label is unknown or not loaded.
  std::shared_ptr<ServedVersion> find(const std::string& model, std::optional<int64_t> version,
                                      const std::string& label, Status* status) const;
  // States of a model's versions (all, or one), newest first; kNotFound for unknown names.
  Status states(const std::string& model, std::optional<int64_t> version, const std::string& label,
                std::vector<VersionState>* out) const;
  std::vector<std::string> model_names() const;
  bool all_ready() const;  // every model has at least one AVAILABLE version

  // kiln_model_state and kiln_queue_depth gauges.
  void render_metrics(std::string& out) const;

 private:
  struct Model {
    ModelConfig config;
    std::map<int64_t, VersionState> states;
    std::map<int64_t, std::shared_ptr<ServedVersion>> loaded;
  };
  void sync_model(const std::string& name);
  void retire(std::shared_ptr<ServedVersion> version);
  void poll_loop();
  void unload_loop();

  std::vector<std::string> order_;  // model names as configured
  double poll_seconds_;
  ServerMetrics* metrics_;
  mutable std::mutex mu_;
  std::map<std::string, Model> models_;

  std::mutex poll_mu_;  // one sync at a time
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread poller_;

  std::mutex unload_mu_;
  std::condition_variable unload_cv_;
  std::vector<std::shared_ptr<ServedVersion>> to_unload_;
  bool unloader_stop_ = false;
  std::thread unloader_;
};

}  // namespace kiln::server
