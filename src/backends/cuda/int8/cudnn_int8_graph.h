// A quantized convolution with its epilogue fused, through cuDNN's graph (backend) API:
//
//   acc = conv(x, w)                 x [N,C,H,W] and w [K,C,R,S], both NHWC/KRSC in memory,
//                                    io_type (INT8 or FP8 E4M3), compute_type accumulation
//   v   = acc * scale + bias         scale, bias: f32 [1,K,1,1] per output channel
//   v   = v + z * z_scale            optional residual z [N,K,Ho,Wo] (INT8 or HALF), z_scale f32 [1,K,1,1]
//   v   = max(v, 0)                  optional
//   v   = clamp(v, lo, y_clip)       when y_clip > 0 (FP8 outputs: lo = relu ? 0 : -y_clip),
//                                    since the float -> FP8 conversion does not saturate
//   y   = convert(v)                 INT8 (rounded and saturated by cuDNN), FP8 E4M3 or HALF
//
// The caller folds the output's requantization scale (1/s_y) into scale, bias and z_scale,
// so no final multiply is needed. Every intermediate is a virtual FLOAT tensor, which is
// what lets cuDNN's runtime-fusion engines keep them in registers.
//
// Execution plans depend on the batch size (the tensors' dims are part of the graph), so an
// EngineChoice (global engine index + knob values) is what survives in tactics and plans:
// the same choice is rebuilt for every batch size the op runs at.
//
// Every failure throws kiln::Error naming the cuDNN call and its status (and cuDNN's last
// error message): the op turns it into a skipped candidate, never a failed build.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <cudnn.h>
#include <nlohmann/json.hpp>

namespace kiln::cuda::int8 {

// Owns one cudnnBackendDescriptor_t.
class BackendDesc {
 public:
  BackendDesc() = default;
  explicit BackendDesc(cudnnBackendDescriptorType_t type);
  ~BackendDesc();
  BackendDesc(BackendDesc&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  BackendDesc& operator=(BackendDesc&& o) noexcept;
  BackendDesc(const BackendDesc&) = delete;
  BackendDesc& operator=(const BackendDesc&) = delete;

  cudnnBackendDescriptor_t get() const { return d_; }
  // Throwing setters; `what` names the attribute in the error.
  void set(const char* what, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
           const void* values);
  void set_i64(const char* what, cudnnBackendAttributeName_t name, const std::vector<int64_t>& v) {
    set(what, name, CUDNN_TYPE_INT64, static_cast<int64_t>(v.size()), v.data());
  }
  void set_desc(const char* what, cudnnBackendAttributeName_t name, const BackendDesc& d) {
    cudnnBackendDescriptor_t raw = d.get();
    set(what, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw);
  }
  void finalize(const char* what);

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

// Throws kiln::Error "cuDNN graph: <what> failed: <status> (<cuDNN's last message>)".
void check_backend(cudnnStatus_t status, const std::string& what);

struct FusedConvSpec {
  cudnnDataType_t io_type = CUDNN_DATA_INT8;          // x and w
  cudnnDataType_t compute_type = CUDNN_DATA_INT32;    // accumulation (FLOAT for FP8)
  int64_t n = 1, c = 0, h = 0, w = 0;                 // x, c already padded
  int64_t k = 0, r = 1, s = 1;                        // filters computed (may be fewer than stored)
  int64_t w_filter_stride = 0;                        // bytes between filters in memory (r*s*c)
  int64_t ho = 0, wo = 0;
  int64_t pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  bool residual = false;
  cudnnDataType_t z_type = CUDNN_DATA_INT8;         // INT8, FP8_E4M3 or HALF
  int64_t z_channel_stride = 0;                       // channels z is stored with (0: k)
  bool relu = false;
  cudnnDataType_t y_type = CUDNN_DATA_INT8;
  float y_clip = 0;                                   // > 0: clamp before the output conversion
  std::string describe() const;  // for error messages and the probe
};

// Unique ids of the variant pack's tensors.
enum FusedConvUid : int64_t { kUidX = 1, kUidW, kUidScale, kUidBias, kUidZ, kUidZScale, kUidY };

struct FusedConvPointers {
  const void* x = nullptr;
  const void* w = nullptr;
  const float* scale = nullptr;
  const float* bias = nullptr;
  const void* z = nullptr;
  const float* z_scale = nullptr;
  void* y = nullptr;
};

// An engine and its knob settings: what a tactic stores.
struct EngineChoice {
  int64_t engine = -1;
  std::vector<std::pair<int64_t, int64_t>> knobs;  // (cudnnBackendKnobType_t, value)
  std::string source;                             // "instant" / "fallback" heuristics (not stored)
  nlohmann::json to_json() const;                  // {"engine":N,"knobs":[[type,value],...]}
  static EngineChoice from_json(const nlohmann::json& j);  // throws
  std::string describe() const;                    // "engine 12 knobs 3=1,7=2"
  bool operator==(const EngineChoice& o) const { return engine == o.engine && knobs == o.knobs; }
};

class FusedConvPlan {
 public:
  size_t workspace_bytes() const { return workspace_; }
  const EngineChoice& choice() const { return choice_; }
  // Throws kiln::Error naming the call. `handle` must have its stream set.
  void execute(cudnnHandle_t handle, const FusedConvPointers& p, void* workspace) const;

 private:
  friend class FusedConvGraph;
  BackendDesc plan_;
  size_t workspace_ = 0;
  bool residual_ = false;
  EngineChoice choice_;
};

// The operation graph of one FusedConvSpec (one batch size).
class FusedConvGraph {
 public:
  // `handle` is used for device properties at finalize (it is not kept by plans' execution).
  FusedConvGraph(cudnnHandle_t handle, const FusedConvSpec& spec);
  const FusedConvSpec& spec() const { return spec_; }

  // Engine configurations proposed by the INSTANT heuristics, then by FALLBACK, without
  // duplicates, at most `max_count`. Problems with one mode are appended to `notes`.
  std::vector<EngineChoice> candidates(int max_count, std::vector<std::string>* notes) const;
  // Builds (finalizes) the execution plan of `choice`; throws if the engine refuses.
  std::unique_ptr<FusedConvPlan> make_plan(const EngineChoice& choice) const;

 private:
  cudnnHandle_t handle_;
  FusedConvSpec spec_;
  std::vector<BackendDesc> keep_;  // tensors and ops the graph refers to
  BackendDesc graph_;
};

// A cuDNN handle per device for building graphs and plans (never destroyed: plans and
// graphs may outlive any one engine's handles).
cudnnHandle_t graph_build_handle();

}  // namespace kiln::cuda::int8
