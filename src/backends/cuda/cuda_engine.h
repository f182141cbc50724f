// The CUDA engine: a lowered graph compiled into DeviceOps, its weights on the GPU, and
// execution contexts that each own an activation arena, pinned staging buffers, a compute
// stream plus host-to-device / device-to-host copy streams, cuDNN/cuBLASLt handles and one
// CUDA graph per batch size.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backends/cuda/device_info.h"
#include "backends/cuda/lower_for_device.h"
#include "engine/engine.h"
#include "engine/plan_format.h"

namespace kiln::cuda {

// Lowers, compiles, times tactics (reading and updating options.timing_cache_path) and
// uploads the weights. `graph` is optimized already for every precision but native.
// `int8_table` (int8 / fp8 / best builds): the activation ranges of `graph`'s values.
// `int8_nodes` (best builds): the convolutions allowed to run in INT8 (see lower_for_device).
std::unique_ptr<Engine> build_cuda_engine(const ir::Graph& graph, const BuildOptions& options, int device,
                                          const quant::CalibrationTable* int8_table = nullptr,
                                          const std::set<std::string>* int8_nodes = nullptr);

// One lowered node of a CUDA engine and the time of its chosen tactic at max batch.
struct OpTiming {
  std::string node;   // the lowered node's name (a source node's name, or a conversion's)
  std::string op;     // "FusedConv", "Int8Conv", "QuantizeInt8", ...
  std::string input;  // name of its first input value
  double ms = 0;      // DeviceOp::tactic_ms(): 0 when nothing was timed
};
// Every op of `engine` in execution order; throws kInvalidArgument if it is not a CUDA engine.
std::vector<OpTiming> op_timings(const Engine& engine);

// Makes a CUDA engine report (and save in its plan) `precision`: `--precision best` keeps its
// FP16 or all-INT8 probe engine when that runs fastest. Only modes whose ops are built alike
// may be swapped (FP16, INT8 and best: FP16 convolutions and INT8 ones by their node).
void relabel_precision(Engine& engine, Precision precision);

// A plan written by a CUDA engine; refuses another GPU model / library major version
// (kFailedPrecondition) and never times tactics again.
std::unique_ptr<Engine> load_cuda_engine(const Plan& plan, int device);

}  // namespace kiln::cuda
