#include "passes/pipeline.h"

#include <memory>

#include "passes/constant_folding.h"
#include "passes/eliminate_dead_nodes.h"
#include "passes/eliminate_identity.h"
#include "passes/fold_batchnorm.h"
#include "passes/function_pass.h"
#include "passes/fuse_conv_epilogue.h"
#include "passes/fuse_gemm_epilogue.h"

namespace kiln::passes {

OptimizeReport optimize_for_inference(ir::Graph& graph, Precision precision) {
  OptimizeReport report;
  report.nodes_before = graph.nodes.size();
  std::vector<std::unique_ptr<Pass>> passes;
  passes.push_back(make_constant_folding_pass());
  if (precision != Precision::kNative) {
    // Identities first so that they do not hide a Conv -> BatchNormalization pair, and
    // BatchNormalization before fusion so that the Conv it folds into can still fuse.
    passes.push_back(make_eliminate_identity_pass());
    passes.push_back(make_fold_batchnorm_pass());
    passes.push_back(make_fuse_conv_epilogue_pass());
    passes.push_back(make_fuse_gemm_epilogue_pass());
    passes.push_back(make_eliminate_dead_nodes_pass());
  }
  run_passes(graph, passes);
  for (const auto& pass : passes) {
    const auto* counted = dynamic_cast<const FunctionPass*>(pass.get());
    if (counted) report.rewrites.emplace_back(pass->name(), counted->rewrites());
  }
  try {
    ir::verify(graph);
  } catch (const Error& e) {
    fail_with(ErrorCode::kInternal, "graph '{}' is invalid after optimization: {}", graph.name, e.what());
  }
  report.nodes_after = graph.nodes.size();
  return report;
}

}  // namespace kiln::passes
