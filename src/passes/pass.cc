#include "passes/pass.h"

namespace kiln::passes {

void run_passes(ir::Graph& graph, const std::vector<std::unique_ptr<Pass>>& passes) {
  for (const auto& pass : passes) {
    try {
      pass->run(graph);
    } catch (const Error& e) {
      throw Error(fmt::format("pass {}: {}", pass->name(), e.what()), e.code());
    }
  }
}

}  // namespace kiln::passes
