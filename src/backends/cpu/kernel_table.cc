#include "backends/cpu/kernels.h"

#include "backends/cpu/kernel_functions.h"

namespace kiln::cpu {

const std::map<std::string, Kernel>& kernels() {
  static const std::map<std::string, Kernel> table = {
      {"Identity", identity},
  };
  return table;
}

bool has_kernel(const std::string& op) { return kernels().count(op) != 0; }

std::vector<Tensor> run_node(const ir::Node& node, const std::vector<const Tensor*>& inputs) {
  auto it = kernels().find(node.op);
  if (it == kernels().end())
    fail_with(ErrorCode::kUnimplemented, "node \"{}\" ({}): no CPU kernel for this op", node.name, node.op);
  try {
    return it->second(node, inputs);
  } catch (const Error& e) {
    throw Error(fmt::format("node \"{}\" ({}): {}", node.name, node.op, e.what()), e.code());
  }
}

}  // namespace kiln::cpu
