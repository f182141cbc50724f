// The engine API: what the CLI and the server use to run a model. Nothing above this
// layer knows which backend runs the model.
//
// Ownership: an Engine owns the weights (on its device) and is shared by any number of
// ExecutionContexts; each context owns its activations and streams and is used by one
// thread at a time. Engine methods are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "engine/precision.h"

namespace kiln {

namespace ir { class Graph; }

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  Dims dims;  // dims[0] is kDynamic for a batched input
};

// Where an engine's run time went, for the last run of a context (milliseconds).
struct RunTiming {
  double compute_ms = 0;  // device compute only (GPU events on CUDA)
  double total_ms = 0;    // end to end, host copies included
};

class ExecutionContext {
 public:
  virtual ~ExecutionContext() = default;
  // Runs one batch. Inputs are host tensors matching the engine's inputs (batch dim
  // 1..max_batch_size); outputs are resized/allocated by the callee. Never throws.
  virtual Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) = 0;
  virtual RunTiming last_timing() const { return {}; }
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const std::vector<TensorInfo>& inputs() const = 0;
  virtual const std::vector<TensorInfo>& outputs() const = 0;
  virtual std::string device() const = 0;  // "cpu", "cuda:0"
  virtual Precision precision() const = 0;
  virtual int max_batch_size() const = 0;
  virtual std::unique_ptr<ExecutionContext> create_context() = 0;
  // Writes a self-contained plan (backends without plans throw kUnimplemented).
  virtual void save_plan(const std::string& path) const {
    fail_with(ErrorCode::kUnimplemented, "the {} backend does not write plans", device());
  }
};

// Raw-image input (CUDA backend; other backends ignore it, so check Engine::inputs()): the
// model's first input, f32 [N, 3, H, W], is replaced by uint8 [N, H, W, 3] RGB pixels that
// the engine normalizes on the device in one pass: x[c] = (pixel[c] * scale - mean[c]) / std[c].
// With bgr, the model's channel order is B, G, R and mean/std are given in that order.
struct ImageInput {
  bool enabled = false;
  float mean[3] = {0.485f, 0.456f, 0.406f};
  float std[3] = {0.229f, 0.224f, 0.225f};
  float scale = 1.0f / 255.0f;
  bool bgr = false;
};

struct BuildOptions {
  std::string device = "cpu";        // "cpu", "cuda" (= cuda:0), "cuda:N"
  Precision precision = Precision::kFP32;
  int max_batch_size = 1;
  std::string timing_cache_path;     // CUDA tactic timings, reused across builds
  ImageInput image_input;            // CUDA: take uint8 images instead of the f32 tensor
  std::string calib_data_dir;        // INT8/FP8 calibration images or .npy tensors
  int calib_batches = 0;
  std::string calibrator = "entropy";
  std::string calib_cache_path;
  // Progress lines for long work (tactic timing, calibration); may be empty.
  std::function<void(const std::string&)> progress;
};

// A backend compiles a graph into an engine for its device.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Op types of the graph this backend cannot run, with one node name each.
  virtual std::vector<std::pair<std::string, std::string>> unsupported_ops(const ir::Graph& graph) const = 0;
  virtual std::unique_ptr<Engine> build(const ir::Graph& graph, const BuildOptions& options) = 0;
};

// The backend for a device string; throws kUnavailable when the device is absent or
// the CUDA backend is not compiled in.
std::unique_ptr<Backend> make_backend(const std::string& device);
// "cuda" if a usable GPU is present, else "cpu".
std::string best_device();

}  // namespace kiln
