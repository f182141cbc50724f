#include "server/model_repository.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "server/metrics.h"

namespace kiln::server {

namespace fs = std::filesystem;

namespace {

// Numbered subdirectories of a base path (TF Serving ignores anything else there).
std::vector<int64_t> versions_on_disk(const std::string& base, Status* status) {
  std::vector<int64_t> out;
  std::error_code ec;
  if (!fs::is_directory(base, ec)) {
    *status = Status(ErrorCode::kNotFound, fmt::format("{}: model base path does not exist or is not a directory", base));
    return out;
  }
  for (const auto& e : fs::directory_iterator(base, ec)) {
    if (!e.is_directory(ec)) continue;
    const std::string n = e.path().filename().string();
    if (n.empty() || n.size() > 18 || !std::all_of(n.begin(), n.end(), ::isdigit)) continue;
    out.push_back(std::stoll(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The directory holding version v: "1", or a zero-padded name such as "00001" (which
// TF-TRT's converter writes).
std::string version_directory(const std::string& base, int64_t v) {
  const fs::path plain = fs::path(base) / std::to_string(v);
  std::error_code ec;
  if (fs::is_directory(plain, ec)) return plain.string();
  for (const auto& e : fs::directory_iterator(base, ec)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory(ec) && !n.empty() && n.size() <= 18 && std::all_of(n.begin(), n.end(), ::isdigit) &&
        std::stoll(n) == v)
      return e.path().string();
  }
  return plain.string();
}

void log_line(const std::string& s) {
  std::fprintf(stderr, "kiln serve: %s\n", s.c_str());
  std::fflush(stderr);
}

}  // namespace

ModelRepository::ModelRepository(std::vector<ModelConfig> models, double poll_seconds, ServerMetrics* metrics)
    : poll_seconds_(poll_seconds), metrics_(metrics) {
  for (auto& c : models) {
    order_.push_back(c.name);
    Model m;
    m.config = std::move(c);
    models_.emplace(order_.back(), std::move(m));
  }
  unloader_ = std::thread([this] { unload_loop(); });
}

ModelRepository::~ModelRepository() { stop(); }

void ModelRepository::start() {
  poll_once();
  if (poll_seconds_ > 0) poller_ = std::thread([this] { poll_loop(); });
}

void ModelRepository::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopping_ && !poller_.joinable() && !unloader_.joinable()) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
  std::vector<std::shared_ptr<ServedVersion>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [name, m] : models_) {
      for (auto& [v, sv] : m.loaded) {
        m.states[v].state = "UNLOADING";
        all.push_back(sv);
      }
      m.loaded.clear();
    }
  }
  for (auto& v : all) retire(std::move(v));
  {
    std::lock_guard<std::mutex> lock(unload_mu_);
    unloader_stop_ = true;
  }
  unload_cv_.notify_all();
  if (unloader_.joinable()) unloader_.join();
}

void ModelRepository::poll_loop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  const auto period = std::chrono::duration<double>(poll_seconds_);
  while (!stop_cv_.wait_for(lock, period, [this] { return stopping_; })) {
    lock.unlock();
    poll_once();
    lock.lock();
  }
}

void ModelRepository::poll_once() {
  std::lock_guard<std::mutex> sync(poll_mu_);
  for (const std::string& name : order_) {
    try {
      sync_model(name);
    } catch (const std::exception& e) {
      log_line(fmt::format("model {}: {}", name, e.what()));
    }
  }
}

void ModelRepository::sync_model(const std::string& name) {
  ModelConfig config;
  std::map<int64_t, VersionState> states;
  {
    std::lock_guard<std::mutex> lock(mu_);
    config = models_.at(name).config;
    states = models_.at(name).states;
  }
  Status scan;
  const std::vector<int64_t> wanted = config.version_policy.select(versions_on_disk(config.base_path, &scan));
  if (!scan.ok() && states.empty()) {
    // TF Serving reports a missing base path in the model's status rather than failing.
    std::lock_guard<std::mutex> lock(mu_);
    models_.at(name).states[0] = {0, "END", scan};
    log_line(fmt::format("model {}: {}", name, scan.message()));
    return;
  }

  // Load new versions, newest first so clients get the latest as early as possible.
  for (auto it = wanted.rbegin(); it != wanted.rend(); ++it) {
    const int64_t v = *it;
    if (states.count(v)) continue;  // loaded, loading, or failed before (not retried until it changes)
    {
      std::lock_guard<std::mutex> lock(mu_);
      models_.at(name).states.erase(0);
      models_.at(name).states[v] = {v, "LOADING", Status()};
    }
    const std::string dir = version_directory(config.base_path, v);
    ModelConfig version_config = config;
    std::shared_ptr<ServedVersion> loaded;
    Status result;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      apply_config_file_if_present(config.base_path, &version_config);
      apply_config_file_if_present(dir, &version_config);
      version_config.name = config.name;  // a config.json cannot rename a model
      loaded = ServedVersion::load(version_config, v, dir, metrics_);
    } catch (const Error& e) {
      result = Status::from_error(e);
    } catch (const std::exception& e) {
      result = Status(ErrorCode::kInternal, e.what());
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mu_);
    Model& m = models_.at(name);
    if (loaded) {
      m.loaded[v] = loaded;
      m.states[v] = {v, "AVAILABLE", Status()};
      log_line(fmt::format("model {} version {}: AVAILABLE ({}, {:.2f} s)", name, v, loaded->model_path(), secs));
    } else {
      m.states[v] = {v, "END", result};
      log_line(fmt::format("model {} version {}: failed to load: {}", name, v, result.message()));
    }
  }

  // Unpublish versions the policy no longer selects (a newer one arrived, or the
  // directory went away) once at least one wanted version is available, so a model
  // never goes dark during a swap.
  std::vector<std::shared_ptr<ServedVersion>> retired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Model& m = models_.at(name);
    bool any_wanted_available = false;
    for (int64_t v : wanted) any_wanted_available = any_wanted_available || m.loaded.count(v);
    for (auto it = m.loaded.begin(); it != m.loaded.end();) {
      const bool keep = std::find(wanted.begin(), wanted.end(), it->first) != wanted.end();
      if (keep || !any_wanted_available) { ++it; continue; }
      m.states[it->first] = {it->first, "UNLOADING", Status()};
      retired.push_back(it->second);
      it = m.loaded.erase(it);
    }
    // Versions that failed and disappeared from disk are forgotten, so they can come back.
    for (auto it = m.states.begin(); it != m.states.end();) {
      const bool on_disk = std::find(wanted.begin(), wanted.end(), it->first) != wanted.end();
      if (it->second.state == "END" && it->first != 0 && !on_disk && !it->second.status.ok()) it = m.states.erase(it);
      else ++it;
    }
  }
  for (auto& r : retired) {
    log_line(fmt::format("model {} version {}: unloading", name, r->version()));
    retire(std::move(r));
  }
}

void ModelRepository::retire(std::shared_ptr<ServedVersion> version) {
  {
    std::lock_guard<std::mutex> lock(unload_mu_);
    to_unload_.push_back(std::move(version));
  }
  unload_cv_.notify_all();
}

void ModelRepository::unload_loop() {
  std::unique_lock<std::mutex> lock(unload_mu_);
  for (;;) {
    unload_cv_.wait(lock, [this] { return unloader_stop_ || !to_unload_.empty(); });
    if (to_unload_.empty()) return;
    std::shared_ptr<ServedVersion> v = std::move(to_unload_.back());
    to_unload_.pop_back();
    lock.unlock();
    // Requests that looked the version up before it was unpublished still hold it; let
    // them submit and finish (bounded, so a stuck client cannot pin a model forever).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (v.use_count() > 1 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    v->stop();
    const std::string name = v->model_name();
    const int64_t number = v->version();
    v.reset();
    {
      std::lock_guard<std::mutex> state_lock(mu_);
      auto it = models_.find(name);
      if (it != models_.end() && !it->second.loaded.count(number)) it->second.states[number] = {number, "END", Status()};
    }
    lock.lock();
  }
}

std::shared_ptr<ServedVersion> ModelRepository::find(const std::string& model, std::optional<int64_t> version,
                                                     const std::string& label, Status* status) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  if (it == models_.end()) {
    *status = Status(ErrorCode::kNotFound, fmt::format("Servable not found for request: Latest({})", model));
    return nullptr;
  }
  const Model& m = it->second;
  if (!label.empty()) {
    auto l = m.config.version_labels.find(label);
    if (l == m.config.version_labels.end()) {
      *status = Status(ErrorCode::kNotFound, fmt::format("Unrecognized servable version label: {}", label));
      return nullptr;
    }
    version = l->second;
  }
  if (version) {
    auto v = m.loaded.find(*version);
    if (v == m.loaded.end()) {
      *status = Status(ErrorCode::kNotFound,
                       fmt::format("Servable not found for request: Specific({}, {})", model, *version));
      return nullptr;
    }
    return v->second;
  }
  if (m.loaded.empty()) {
    std::string why;
    for (const auto& [v, s] : m.states)
      if (!s.status.ok()) why = ": " + s.status.message();
    *status = Status(ErrorCode::kNotFound, fmt::format("Servable not found for request: Latest({}){}", model, why));
    return nullptr;
  }
  return m.loaded.rbegin()->second;
}

Status ModelRepository::states(const std::string& model, std::optional<int64_t> version, const std::string& label,
                               std::vector<VersionState>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  if (it == models_.end())
    return Status(ErrorCode::kNotFound, fmt::format("Could not find any versions of model {}", model));
  const Model& m = it->second;
  if (!label.empty()) {
    auto l = m.config.version_labels.find(label);
    if (l == m.config.version_labels.end())
      return Status(ErrorCode::kNotFound, fmt::format("Unrecognized servable version label: {}", label));
    version = l->second;
  }
  out->clear();
  for (auto s = m.states.rbegin(); s != m.states.rend(); ++s)
    if (!version || s->first == *version) out->push_back(s->second);
  if (version && out->empty())
    return Status(ErrorCode::kNotFound,
                  fmt::format("Could not find version {} of model {}", *version, model));
  return Status();
}

std::vector<std::string> ModelRepository::model_names() const { return order_; }

bool ModelRepository::all_ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, m] : models_)
    if (m.loaded.empty()) return false;
  return true;
}

void ModelRepository::render_metrics(std::string& out) const {
  std::lock_guard<std::mutex> lock(mu_);
  out += "# HELP kiln_model_state 1 for the state each model version is in (START, LOADING, AVAILABLE, UNLOADING, END).\n";
  out += "# TYPE kiln_model_state gauge\n";
  for (const auto& [name, m] : models_)
    for (const auto& [v, s] : m.states)
      append_sample(out, "kiln_model_state",
                    label("model", name) + "," + label("version", std::to_string(v)) + "," + label("state", s.state), 1);
  out += "# HELP kiln_queue_depth Requests waiting in a model version's batching queue.\n";
  out += "# TYPE kiln_queue_depth gauge\n";
  for (const auto& [name, m] : models_)
    for (const auto& [v, sv] : m.loaded)
      append_sample(out, "kiln_queue_depth", label("model", name) + "," + label("version", std::to_string(v)),
                    static_cast<double>(sv->batcher().queue_depth()));
}

}  // namespace kiln::server
