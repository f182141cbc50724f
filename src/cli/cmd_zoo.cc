#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/subcommands.h"
#include "zoo/zoo.h"

namespace kiln::cli {

int run_zoo(int argc, char** argv) {
  CLI::App app{"Write a built-in reference model (synthetic weights) as ONNX", "kiln zoo"};
  std::string name, out;
  bool list = false;
  app.add_option("model", name, "zoo model name (see --list)");
  app.add_option("--out,-o", out, "ONNX file to write");
  app.add_flag("--list", list, "list the zoo models");
  CLI11_PARSE(app, argc, argv);
  if (list) {
    for (const auto& m : zoo::zoo_models())
      std::printf("%-14s %6.2fM params  %s\n", m.name.c_str(), m.parameters / 1e6, m.description.c_str());
    return kExitOk;
  }
  if (name.empty() || out.empty()) {
    std::fprintf(stderr, "kiln zoo: give a model name and --out FILE, or --list\n");
    return kExitUsage;
  }
  zoo::write_zoo_model(name, out);
  std::printf("wrote %s to %s\n", name.c_str(), out.c_str());
  return kExitOk;
}

}  // namespace kiln::cli
