// `kiln predict --url http://HOST:PORT --image X.jpg`: the client side of kiln serve (or
// TensorFlow Serving, or a KServe v2 server): sends images to a served classifier and
// prints the top-k labels with probabilities, as `kiln run` does locally.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/classify.h"
#include "cli/parse_flags.h"
#include "cli/subcommands.h"
#include "client/image_request.h"
#include "client/predict_response.h"

namespace kiln::cli {

int run_predict(int argc, char** argv) {
  CLI::App app{"Classify images with a served model (TF Serving REST or KServe v2)", "kiln predict"};
  std::string url_text, labels_path, protocol_text = "tfserving", payload_text = "jpeg";
  client::PredictTarget target;
  std::vector<std::string> image_paths;
  int64_t version = -1;
  int top = 5;
  double timeout_s = 30;
  app.add_option("--url", url_text, "server address, e.g. http://localhost:8888")->required();
  app.add_option("--model,--model-name", target.model, "served model name")->capture_default_str();
  app.add_option("--version", version, "model version (default: the server's latest)")->check(CLI::NonNegativeNumber);
  app.add_option("--image,--image-file", image_paths, "image file(s) (JPEG, PNG, BMP); sent as one batch")->required();
  app.add_option("--protocol", protocol_text, "tfserving (/v1 REST) or kserve (/v2)")->capture_default_str();
  app.add_option("--payload", payload_text,
                 "jpeg (encoded file, base64), json (preprocessed numbers) or binary (KServe binary tensor)")
      ->capture_default_str();
  app.add_option("--labels", labels_path, "class names, one per line (default: data/imagenet_classes.txt)");
  app.add_option("--top", top, "how many predictions per image")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--timeout", timeout_s, "seconds to wait for each reply")->check(CLI::PositiveNumber)
      ->capture_default_str();
  if (auto exit_code = parse_flags(app, argc, argv)) return *exit_code;

  const client::ServerUrl url = client::parse_server_url(url_text);
  target.protocol = client::parse_protocol(protocol_text);
  target.payload = client::parse_payload(payload_text);
  if (version >= 0) target.version = version;
  if (target.payload == client::Payload::kBinary && target.protocol != client::Protocol::kKServe) {
    fmt::print(stderr, "kiln predict: --payload binary needs --protocol kserve (TF Serving REST has no binary form)\n");
    return kExitUsage;
  }
  // Labels and images first: a bad path fails before any network traffic.
  const std::vector<std::string> labels = load_labels_or_default(labels_path);
  std::vector<client::ImageFile> images;
  for (const auto& p : image_paths) images.push_back(client::read_image_file(p));

  client::HttpConnection connection(url, std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
  std::optional<client::ModelSignature> signature;
  if (client::needs_signature(target)) signature = client::fetch_signature(connection, target);
  const client::HttpRequestSpec request =
      client::build_image_request(url, target, signature ? &*signature : nullptr, images);
  const client::HttpReply reply = client::send_or_throw(connection, request);
  const std::vector<client::NamedOutput> outputs = client::parse_predict_reply(target.protocol, reply);
  KILN_CHECK(!outputs.empty(), "{}: the server's reply holds no outputs", request.target);
  const Tensor& scores = outputs[0].values;
  KILN_CHECK(scores.rank() >= 1 && scores.dims()[0] == static_cast<int64_t>(images.size()),
             "{}: the reply's output {} does not have one row per image ({} sent)", request.target, scores.describe(),
             images.size());
  const auto rows = top_predictions(scores, labels, top);
  for (size_t r = 0; r < rows.size(); ++r) {
    fmt::print("{}\n", images[r].path);
    for (size_t i = 0; i < rows[r].size(); ++i)
      fmt::print("  {}. {:.4f}  class {:<4}  {}\n", i + 1, rows[r][i].prob, rows[r][i].class_index, rows[r][i].label);
  }
  return kExitOk;
}

}  // namespace kiln::cli
