// Per-GPU utilization, memory and power read through NVML, loaded with dlopen at run time
// so kiln neither links against nor requires the NVIDIA driver. With no driver the
// gauges are simply left out of /metrics.
#pragma once

#include <string>

namespace kiln::server {

class NvmlGauges {
 public:
  NvmlGauges();  // never throws; logs nothing when NVML is absent
  ~NvmlGauges();
  NvmlGauges(const NvmlGauges&) = delete;
  NvmlGauges& operator=(const NvmlGauges&) = delete;

  bool available() const { return handle_ != nullptr; }
  // Appends kiln_gpu_utilization_ratio, kiln_gpu_memory_used_bytes, kiln_gpu_memory_total_bytes
  // and kiln_gpu_power_watts, one sample per GPU; nothing when NVML is absent.
  void render(std::string& out) const;

 private:
  void* handle_ = nullptr;
  struct Api;
  Api* api_ = nullptr;
};

}  // namespace kiln::server
