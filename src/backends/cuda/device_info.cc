#include "backends/cuda/device_info.h"

#include "backends/cuda/cuda_check.h"

namespace kiln::cuda {

std::string DeviceInfo::tactic_key() const {
  return fmt::format("sm_{}{} {} cudnn {} cublasLt {}", cc_major, cc_minor, name, cudnn, cublaslt);
}

nlohmann::json DeviceInfo::to_json() const {
  return {{"gpu", name},
          {"compute_capability", fmt::format("{}.{}", cc_major, cc_minor)},
          {"multiprocessors", multiprocessors},
          {"memory_bytes", total_memory},
          {"cuda_runtime", cuda_runtime},
          {"cuda_driver", cuda_driver},
          {"cudnn", cudnn},
          {"cublaslt", cublaslt}};
}

DeviceInfo query_device(int index) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) count = 0;
  if (index < 0 || index >= count)
    fail_with(ErrorCode::kUnavailable, "cuda:{} asked for, but {} CUDA device(s) are present", index, count);
  cudaDeviceProp prop{};
  KILN_CUDA_CALL("querying the GPU", cudaGetDeviceProperties(&prop, index));
  DeviceInfo info;
  info.index = index;
  info.name = prop.name;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.total_memory = prop.totalGlobalMem;
  KILN_CUDA_CALL("querying the GPU", cudaRuntimeGetVersion(&info.cuda_runtime));
  KILN_CUDA_CALL("querying the GPU", cudaDriverGetVersion(&info.cuda_driver));
  info.cudnn = cudnnGetVersion();
  info.cublaslt = cublasLtGetVersion();
  return info;
}

void check_plan_device(const nlohmann::json& built_on, const DeviceInfo& here) {
  const std::string gpu = built_on.value("gpu", std::string("?"));
  const std::string cc = built_on.value("compute_capability", std::string("?"));
  const std::string here_cc = fmt::format("{}.{}", here.cc_major, here.cc_minor);
  if (gpu != here.name || cc != here_cc)
    fail_with(ErrorCode::kFailedPrecondition,
              "plan was built for {} (compute capability {}) but this is {} (compute capability {}); "
              "rebuild the plan on this GPU with `kiln build`",
              gpu, cc, here.name, here_cc);
  // Versions are encoded as major*1000 (CUDA), major*10000 (cuDNN 9), major*10000 (cuBLASLt).
  auto check_major = [&](const char* lib, const char* field, size_t here_version, size_t divisor) {
    const size_t built = built_on.value(field, size_t{0});
    if (built / divisor != here_version / divisor)
      fail_with(ErrorCode::kFailedPrecondition,
                "plan was built with {} {} but this machine has {} {}; rebuild the plan with `kiln build`", lib,
                built, lib, here_version);
  };
  check_major("CUDA runtime", "cuda_runtime", static_cast<size_t>(here.cuda_runtime), 1000);
  check_major("cuDNN", "cudnn", here.cudnn, 10000);
  check_major("cuBLASLt", "cublaslt", here.cublaslt, 10000);
}

}  // namespace kiln::cuda
