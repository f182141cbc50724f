#include "frontends/onnx/onnx_passes.h"
#include "passes/constant_folding.h"

namespace kiln::onnx {

void optimize_imported_graph(ir::Graph& graph) {
  std::vector<std::unique_ptr<passes::Pass>> pipeline;
  pipeline.push_back(passes::make_constant_folding_pass());
  passes::run_passes(graph, pipeline);
}

}  // namespace kiln::onnx
