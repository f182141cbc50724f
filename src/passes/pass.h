// A graph pass: rewrites an IR graph in place. Passes throw kiln::Error (naming the node)
// on graphs they cannot handle; run_passes adds the pass name.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string name() const = 0;
  virtual void run(ir::Graph& graph) = 0;
};

// Runs the passes in order; an error is rethrown as "pass <name>: <message>".
void run_passes(ir::Graph& graph, const std::vector<std::unique_ptr<Pass>>& passes);

}  // namespace kiln::passes
