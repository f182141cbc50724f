// `kiln serve`: loads the models, opens the REST port once they are loaded (as TF Serving
// does), serves until SIGINT/SIGTERM, then stops accepting, answers what is in flight,
// drains the batchers and exits.
#pragma once

#include <string>
#include <vector>

#include "server/model_config.h"

namespace kiln::server {

struct ServeOptions {
  std::vector<ModelConfig> models;
  std::string address = "0.0.0.0";
  int port = 8501;
  int threads = 0;  // 0: max(4, hardware threads)
  double poll_seconds = 1;
  uint64_t max_body_bytes = 64ull << 20;
};

// Returns the process exit code (0 after a clean signal-initiated shutdown).
int run_model_server(const ServeOptions& options);

}  // namespace kiln::server
