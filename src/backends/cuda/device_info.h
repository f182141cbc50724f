// What a CUDA engine depends on: the GPU model and the library versions its tactics were
// timed with. Stored in a plan's `device` field; a plan is refused on a different GPU model,
// compute capability or library major version.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace kiln::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;           // "NVIDIA H100 80GB HBM3"
  int cc_major = 0, cc_minor = 0;
  int multiprocessors = 0;
  size_t total_memory = 0;
  int cuda_runtime = 0;       // cudaRuntimeGetVersion, e.g. 13000
  int cuda_driver = 0;
  size_t cudnn = 0;           // cudnnGetVersion, e.g. 91400
  size_t cublaslt = 0;        // cublasLtGetVersion

  // "sm_90 NVIDIA H100 80GB HBM3 cudnn 9.14.0": the key prefix of timing-cache entries.
  std::string tactic_key() const;
  nlohmann::json to_json() const;
};

// Queries device `index` (throws kUnavailable when it does not exist).
DeviceInfo query_device(int index);

// Throws kFailedPrecondition naming both sides when a plan built on `built_on` cannot run on
// `here`: other GPU model or compute capability, or other CUDA / cuDNN / cuBLASLt major version.
void check_plan_device(const nlohmann::json& built_on, const DeviceInfo& here);

}  // namespace kiln::cuda
