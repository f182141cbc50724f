#include <CLI/CLI.hpp>

#include "cli/subcommands.h"
#include "ir/graph.h"
#include "runtime/model_loader.h"

namespace kiln::cli {

int run_inspect(int argc, char** argv) {
  CLI::App app{"Show a model's inputs, outputs and ops", "kiln inspect"};
  std::string model;
  bool dump_graph = false;
  app.add_option("model", model, "ONNX model, TensorFlow graph or kiln plan")->required();
  app.add_flag("--dump", dump_graph, "print every node");
  CLI11_PARSE(app, argc, argv);
  ir::Graph graph = import_model(model);
  std::printf("%s", ir::dump(graph).c_str());
  return kExitOk;
}

}  // namespace kiln::cli
