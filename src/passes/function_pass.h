// A Pass made of a rewrite function that returns how many rewrites it made, so the
// pipeline can report what each pass did.
#pragma once

#include <string>
#include <utility>

#include "passes/pass.h"

namespace kiln::passes {

using RewriteFn = int (*)(ir::Graph& graph);

class FunctionPass : public Pass {
 public:
  FunctionPass(std::string name, RewriteFn fn) : name_(std::move(name)), fn_(fn) {}
  std::string name() const override { return name_; }
  void run(ir::Graph& graph) override { rewrites_ = fn_(graph); }
  int rewrites() const { return rewrites_; }

 private:
  std::string name_;
  RewriteFn fn_;
  int rewrites_ = 0;
};

}  // namespace kiln::passes
