// The executable form of a CUDA engine: device values (activations and weights, with their
// device dtype and memory order) and one DeviceOp per node, in execution order.
//
// Ownership: a DeviceProgram belongs to its engine and is shared read-only by every
// execution context; per-context state (activation arena, streams, handles) lives in the
// RunState that contexts pass to DeviceOp::enqueue. Ops that cache per-batch descriptors
// guard the cache themselves, so contexts on several threads may enqueue the same op.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/kernel_types.h"
#include "core/dtype.h"
#include "core/shape.h"

namespace kiln::cuda {

using kernels::Layout;

struct DeviceValue {
  std::string name;
  DType dtype = DType::kF32;
  Dims dims;               // logical (ONNX, NCHW) order, at the engine's max batch
  bool batched = false;    // dims[0] follows the run's batch size
  Layout layout = Layout::kNCHW;  // memory order; kNHWC only for rank-4 tensors
  int storage = -1;        // the value whose buffer holds this one (itself, or what it aliases)
  bool is_weight = false;  // lives in the engine's weight buffer at weight_offset
  size_t weight_offset = 0;

  Dims dims_at(int batch) const;
  // Dims in memory order (NHWC permuted for kNHWC).
  Dims physical_dims_at(int batch) const;
  size_t bytes_at(int batch) const;
};

// What an op needs to enqueue its work for one batch on one context.
struct RunState {
  int batch = 1;
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasLtHandle_t cublaslt = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  const std::vector<void*>* addresses = nullptr;  // device address of every value

  void* at(int value) const { return (*addresses)[static_cast<size_t>(value)]; }
};

// Timing of candidate tactics at build time.
struct TacticTimer;

class DeviceOp {
 public:
  virtual ~DeviceOp() = default;
  std::vector<int> reads;   // values the op reads (kNoValue-free), for activation lifetimes
  std::vector<int> writes;  // values the op writes

  // `node "conv1" (FusedConv)`: the prefix of every error this op raises.
  const std::string& label() const { return label_; }
  void set_label(std::string label) { label_ = std::move(label); }

  // Enqueues the op's work on state.stream. Throws kiln::Error naming the op and the failed call.
  virtual void enqueue(const RunState& state) = 0;
  // Scratch bytes enqueue needs at the engine's max batch.
  virtual size_t workspace_bytes() const { return 0; }
  // Ops with several implementations time them (or read the timing cache) and keep the best.
  virtual void select_tactic(TacticTimer& /*timer*/) {}
  // The chosen tactic, stored in plans so that loading does not time again.
  virtual nlohmann::json tactic() const { return nullptr; }
  virtual void set_tactic(const nlohmann::json& /*tactic*/) {}
  // One-line description for build progress ("algo 1 fused, 0.123 ms").
  virtual std::string describe_tactic() const { return {}; }
  // Milliseconds the chosen tactic took at the engine's max batch when it was timed (or
  // read from the timing cache); 0 when the op timed nothing. `--precision best` compares
  // these between engines to pick each layer's precision.
  virtual double tactic_ms() const { return 0; }

 private:
  std::string label_;
};

struct DeviceProgram {
  std::vector<DeviceValue> values;
  std::vector<std::unique_ptr<DeviceOp>> ops;
  std::vector<int> inputs;   // graph inputs: f32 NCHW host tensors are copied into these
  std::vector<int> outputs;  // graph outputs: f32 NCHW
  void* weights = nullptr;   // device buffer of every weight (owned by the engine)
};

cudnnDataType_t cudnn_dtype(DType dtype);
cudaDataType_t cuda_dtype(DType dtype);

}  // namespace kiln::cuda
