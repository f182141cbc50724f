// GPU telemetry (temperature, power, utilization) through NVML, loaded with dlopen at run
// time so kiln has no link-time dependency on the driver's libnvidia-ml. Every reading is
// optional: a missing library, device or field gives std::nullopt, printed as "n/a".
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace kiln::cuda::burn {

struct GpuTelemetry {
  std::optional<unsigned> temperature_c;
  std::optional<double> power_w;
  std::optional<unsigned> utilization_pct;
};

class NvmlReader {
 public:
  // Never throws: without NVML every read returns empty telemetry.
  static std::unique_ptr<NvmlReader> open();
  ~NvmlReader();
  bool available() const;
  // `pci_bus_id` as cudaDeviceGetPCIBusId writes it; CUDA and NVML number GPUs differently.
  GpuTelemetry read(const std::string& pci_bus_id) const;

 private:
  NvmlReader() = default;
  struct Api;
  std::unique_ptr<Api> api_;
};

// "72 C", "651.3 W", "100%" or "n/a".
std::string format_temperature(const std::optional<unsigned>& v);
std::string format_power(const std::optional<double>& v);
std::string format_percent(const std::optional<unsigned>& v);

}  // namespace kiln::cuda::burn
