// `kiln loadgen --url http://HOST:PORT --concurrency N --duration S`: load-tests a served
// model like perf_analyzer (closed loop of N connections, or an open loop at a request
// rate), then prints throughput, latency percentiles and errors by kind, and writes JSON.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <fstream>

#include "cli/classify.h"
#include "cli/parse_flags.h"
#include "cli/subcommands.h"
#include "client/image_request.h"
#include "client/load_generator.h"

namespace kiln::cli {

int run_loadgen(int argc, char** argv) {
  CLI::App app{"Load-test a served model: throughput and latency percentiles under concurrency or a request rate",
               "kiln loadgen"};
  std::string url_text, protocol_text = "tfserving", payload_text = "jpeg", distribution_text = "constant";
  std::string image_path, output_json;
  client::PredictTarget target;
  client::LoadOptions options;
  int64_t version = -1;
  int batch = 1;
  app.add_option("--url", url_text, "server address, e.g. http://localhost:8888")->required();
  app.add_option("--model,--model-name", target.model, "served model name")->capture_default_str();
  app.add_option("--version", version, "model version (default: the server's latest)")->check(CLI::NonNegativeNumber);
  auto* concurrency = app.add_option("--concurrency", options.concurrency, "closed loop: connections, each with one "
                                     "request in flight")->capture_default_str();
  auto* rate = app.add_option("--request-rate", options.request_rate, "open loop: requests per second");
  concurrency->excludes(rate);
  app.add_option("--distribution", distribution_text, "open loop arrivals: constant or poisson")->capture_default_str();
  app.add_option("--max-connections", options.max_connections, "open loop: connections sending")->capture_default_str();
  app.add_option("--duration", options.duration_s, "seconds measured")->capture_default_str();
  app.add_option("--warmup", options.warmup_s, "seconds of load before measuring")->capture_default_str();
  app.add_option("--timeout", options.timeout_s, "seconds before a request counts as timed out")->capture_default_str();
  app.add_option("--protocol", protocol_text, "tfserving (/v1 REST) or kserve (/v2)")->capture_default_str();
  app.add_option("--payload", payload_text, "jpeg, json (preprocessed numbers) or binary (KServe binary tensor)")
      ->capture_default_str();
  app.add_option("--image,--image-file", image_path, "image sent in every request (default: data/images/sample.jpg)");
  app.add_option("--batch", batch, "images per request")->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--output-json", output_json, "write the report here as JSON");
  app.add_option("--seed", options.seed, "seed of the Poisson arrivals")->capture_default_str();
  if (auto exit_code = parse_flags(app, argc, argv)) return *exit_code;

  options.url = client::parse_server_url(url_text);
  target.protocol = client::parse_protocol(protocol_text);
  target.payload = client::parse_payload(payload_text);
  options.distribution = client::parse_distribution(distribution_text);
  if (version >= 0) target.version = version;
  if (target.payload == client::Payload::kBinary && target.protocol != client::Protocol::kKServe) {
    fmt::print(stderr, "kiln loadgen: --payload binary needs --protocol kserve (TF Serving REST has no binary form)\n");
    return kExitUsage;
  }
  if (*rate && options.request_rate <= 0) {
    fmt::print(stderr, "kiln loadgen: --request-rate must be positive\n");
    return kExitUsage;
  }
  options.images_per_request = batch;

  const client::ImageFile image =
      client::read_image_file(image_path.empty() ? find_data_file("images/sample.jpg") : image_path);
  const std::vector<client::ImageFile> images(static_cast<size_t>(batch), image);
  std::optional<client::ModelSignature> signature;
  if (client::needs_signature(target)) {
    client::HttpConnection connection(options.url,
                                      std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000)));
    signature = client::fetch_signature(connection, target);
  }
  options.request = client::build_image_request(options.url, target, signature ? &*signature : nullptr, images);

  const client::LoadResult result = client::run_load(options);
  nlohmann::json report = client::load_report_json(options, result);
  report["model"] = target.model;
  report["protocol"] = client::protocol_name(target.protocol);
  report["payload"] = client::payload_name(target.payload);
  fmt::print("kiln loadgen: {} {} ({} payload, {} bytes per request)\n", options.url.text(), options.request.target,
             client::payload_name(target.payload), options.request.body.size());
  fmt::print("{}", client::load_report_text(options, result));
  if (!output_json.empty()) {
    std::ofstream out(output_json);
    if (!out) fail("--output-json {}: cannot write the file", output_json);
    out << report.dump(2) << "\n";
    if (!out) fail("--output-json {}: write failed", output_json);
  }
  // Some failures under load are a result; no success at all is a failed run.
  if (result.stats.succeeded == 0) {
    fmt::print(stderr, "kiln loadgen: error: no request succeeded{}\n",
               result.stats.first_error.empty() ? "" : " (first error: " + result.stats.first_error + ")");
    return kExitError;
  }
  return kExitOk;
}

}  // namespace kiln::cli
