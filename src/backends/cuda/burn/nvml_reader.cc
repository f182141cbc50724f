#include "backends/cuda/burn/nvml_reader.h"

#include <dlfcn.h>

#include <fmt/format.h>

namespace kiln::cuda::burn {
namespace {

// The few NVML declarations used, from the stable NVML C ABI (nvml.h is not needed).
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {
  unsigned gpu;
  unsigned memory;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr int kNvmlTemperatureGpu = 0;

}  // namespace

struct NvmlReader::Api {
  void* library = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*by_pci_bus_id)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned*) = nullptr;
  nvmlReturn_t (*power_usage)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  bool initialized = false;
};

std::unique_ptr<NvmlReader> NvmlReader::open() {
  std::unique_ptr<NvmlReader> reader(new NvmlReader());
  auto api = std::make_unique<Api>();
  api->library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (api->library) {
    auto sym = [&](const char* name) { return dlsym(api->library, name); };
    api->init = reinterpret_cast<nvmlReturn_t (*)()>(sym("nvmlInit_v2"));
    api->shutdown = reinterpret_cast<nvmlReturn_t (*)()>(sym("nvmlShutdown"));
    api->by_pci_bus_id =
        reinterpret_cast<nvmlReturn_t (*)(const char*, nvmlDevice_t*)>(sym("nvmlDeviceGetHandleByPciBusId_v2"));
    api->temperature = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, int, unsigned*)>(sym("nvmlDeviceGetTemperature"));
    api->power_usage = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, unsigned*)>(sym("nvmlDeviceGetPowerUsage"));
    api->utilization =
        reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*)>(sym("nvmlDeviceGetUtilizationRates"));
    api->initialized = api->init && api->by_pci_bus_id && api->init() == kNvmlSuccess;
  }
  reader->api_ = std::move(api);
  return reader;
}

NvmlReader::~NvmlReader() {
  if (!api_) return;
  if (api_->initialized && api_->shutdown) api_->shutdown();
  if (api_->library) dlclose(api_->library);
}

bool NvmlReader::available() const { return api_ && api_->initialized; }

GpuTelemetry NvmlReader::read(const std::string& pci_bus_id) const {
  GpuTelemetry t;
  if (!available()) return t;
  nvmlDevice_t device = nullptr;
  if (api_->by_pci_bus_id(pci_bus_id.c_str(), &device) != kNvmlSuccess) return t;
  unsigned value = 0;
  if (api_->temperature && api_->temperature(device, kNvmlTemperatureGpu, &value) == kNvmlSuccess)
    t.temperature_c = value;
  if (api_->power_usage && api_->power_usage(device, &value) == kNvmlSuccess) t.power_w = value / 1000.0;
  nvmlUtilization_t util{};
  if (api_->utilization && api_->utilization(device, &util) == kNvmlSuccess) t.utilization_pct = util.gpu;
  return t;
}

std::string format_temperature(const std::optional<unsigned>& v) { return v ? fmt::format("{} C", *v) : "n/a"; }
std::string format_power(const std::optional<double>& v) { return v ? fmt::format("{:.0f} W", *v) : "n/a"; }
std::string format_percent(const std::optional<unsigned>& v) { return v ? fmt::format("{}%", *v) : "n/a"; }

}  // namespace kiln::cuda::burn
