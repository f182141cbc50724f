#include <CLI/CLI.hpp>

#include "cli/subcommands.h"
#include "engine/engine.h"
#include "server/model_server.h"

namespace kiln::cli {

int run_serve(int argc, char** argv) {
  CLI::App app{"Serve models over TensorFlow Serving REST (/v1) and KServe v2 (/v2) with dynamic batching",
               "kiln serve"};
  server::ServeOptions options;
  server::ModelConfig defaults;
  std::string base_path, config_file, gpus, device = "cpu", version_policy = "latest";
  int instances_per_gpu = 0;
  app.add_option("--model-base-path", base_path, "folder of numbered version folders (1/model.onnx, 2/model.plan ...)");
  app.add_option("--model-name", defaults.name, "name of the model given by --model-base-path")->capture_default_str();
  app.add_option("--model-config-file", config_file,
                 "JSON list of models [{\"name\", \"base_path\", config.json fields...}] instead of --model-base-path");
  app.add_option("--rest-api-port", options.port, "HTTP port (0 picks a free one)")->capture_default_str();
  app.add_option("--rest-api-address", options.address, "address to listen on")->capture_default_str();
  app.add_option("--rest-api-num-threads", options.threads, "HTTP threads (default: max(4, cores))");
  app.add_option("--file-system-poll-wait-seconds", options.poll_seconds,
                 "seconds between scans for new versions (0: never rescan)")->capture_default_str();
  app.add_option("--device", device, "cpu, cuda, cuda:N, or auto (a GPU when there is one)")->capture_default_str();
  app.add_option("--gpus", gpus, "one engine per GPU: all, or a list such as 0,1");
  app.add_option("--instances-per-gpu", instances_per_gpu, "execution contexts per device (default 1)");
  app.add_option("--precision", defaults.precision, "engine precision (fp32, fp16, int8, ...)")->capture_default_str();
  app.add_option("--max-batch-size", defaults.max_batch_size, "rows per batch")->capture_default_str();
  app.add_option("--batch-timeout-micros", defaults.batch_timeout_micros,
                 "how long a request may wait for others to batch with")->capture_default_str();
  app.add_option("--max-queue-size", defaults.max_queue_size, "queued requests per model before 429")
      ->capture_default_str();
  app.add_option("--max-body-bytes", options.max_body_bytes, "largest request body (413 above)")->capture_default_str();
  app.add_option("--version-policy", version_policy, "latest, latest:N, all, or specific:1,2")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (base_path.empty() == config_file.empty())
    fail("give exactly one of --model-base-path and --model-config-file");
  defaults.device = device == "auto" ? best_device() : device;
  if (!gpus.empty()) defaults.devices = server::parse_gpu_list(gpus);
  if (instances_per_gpu > 0) defaults.instances_per_device = instances_per_gpu;
  defaults.version_policy = server::VersionPolicy::parse(version_policy);
  KILN_CHECK(defaults.max_batch_size >= 1, "--max-batch-size must be at least 1");
  KILN_CHECK(defaults.max_queue_size >= 1, "--max-queue-size must be at least 1");
  KILN_CHECK(defaults.batch_timeout_micros >= 0, "--batch-timeout-micros must not be negative");
  KILN_CHECK(options.port >= 0 && options.port <= 65535, "--rest-api-port {} is not a port", options.port);
  if (!config_file.empty()) {
    options.models = server::load_model_config_file(config_file, defaults);
  } else {
    defaults.base_path = base_path;
    options.models.push_back(defaults);
  }
  return server::run_model_server(options);
}

}  // namespace kiln::cli
