// What every execution context of one CUDA engine shares (read-only after the build):
// the compiled program, the weights on the device, the activation arena layout.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/device_info.h"
#include "backends/cuda/device_program.h"
#include "backends/cuda/lower_for_device.h"
#include "engine/engine.h"

namespace kiln::cuda {

struct EngineCore {
  int device = 0;
  DeviceInfo info;
  Precision precision = Precision::kFP32;
  int max_batch = 1;
  LoweredGraph lowered;            // kept for save_plan
  DeviceProgram program;
  std::vector<TensorInfo> inputs, outputs;
  std::vector<size_t> arena_offset;  // per value (meaningful for activation storage roots)
  size_t arena_bytes = 0;
  size_t workspace_bytes = 0;
  bool use_cuda_graphs = true;     // off for native: the framework baseline launches op by op

  ~EngineCore();
};

// Creates the execution context (defined in cuda_context.cc).
std::unique_ptr<ExecutionContext> make_cuda_context(std::shared_ptr<const EngineCore> core);

}  // namespace kiln::cuda
