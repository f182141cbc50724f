#include "server/nvml_gauges.h"

#include <dlfcn.h>

#include <string>

#include "server/metrics.h"

namespace kiln::server {

namespace {
// The few NVML declarations used, matching nvml.h (stable C ABI since NVML v2).
using nvmlReturn_t = int;
using nvmlDevice_t = void*;
struct nvmlUtilization_t { unsigned int gpu, memory; };
struct nvmlMemory_t { unsigned long long total, free, used; };
}  // namespace

struct NvmlGauges::Api {
  nvmlReturn_t (*init)();
  nvmlReturn_t (*shutdown)();
  nvmlReturn_t (*count)(unsigned int*);
  nvmlReturn_t (*handle_by_index)(unsigned int, nvmlDevice_t*);
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*);
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned int*);
};

NvmlGauges::NvmlGauges() {
  handle_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!handle_) return;
  auto* api = new Api{};
  auto sym = [&](const char* name) { return dlsym(handle_, name); };
  api->init = reinterpret_cast<nvmlReturn_t (*)()>(sym("nvmlInit_v2"));
  api->shutdown = reinterpret_cast<nvmlReturn_t (*)()>(sym("nvmlShutdown"));
  api->count = reinterpret_cast<nvmlReturn_t (*)(unsigned int*)>(sym("nvmlDeviceGetCount_v2"));
  api->handle_by_index =
      reinterpret_cast<nvmlReturn_t (*)(unsigned int, nvmlDevice_t*)>(sym("nvmlDeviceGetHandleByIndex_v2"));
  api->utilization =
      reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*)>(sym("nvmlDeviceGetUtilizationRates"));
  api->memory = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*)>(sym("nvmlDeviceGetMemoryInfo"));
  api->power = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, unsigned int*)>(sym("nvmlDeviceGetPowerUsage"));
  if (!api->init || !api->shutdown || !api->count || !api->handle_by_index || !api->utilization ||
      !api->memory || !api->power || api->init() != 0) {
    delete api;
    dlclose(handle_);
    handle_ = nullptr;
    return;
  }
  api_ = api;
}

NvmlGauges::~NvmlGauges() {
  if (!handle_) return;
  api_->shutdown();
  delete api_;
  dlclose(handle_);
}

void NvmlGauges::render(std::string& out) const {
  if (!handle_) return;
  unsigned int n = 0;
  if (api_->count(&n) != 0 || n == 0) return;
  std::string util, mem_used, mem_total, power;
  for (unsigned int i = 0; i < n; ++i) {
    nvmlDevice_t dev = nullptr;
    if (api_->handle_by_index(i, &dev) != 0) continue;
    const std::string gpu = label("gpu", std::to_string(i));
    nvmlUtilization_t u{};
    if (api_->utilization(dev, &u) == 0) append_sample(util, "kiln_gpu_utilization_ratio", gpu, u.gpu / 100.0);
    nvmlMemory_t m{};
    if (api_->memory(dev, &m) == 0) {
      append_sample(mem_used, "kiln_gpu_memory_used_bytes", gpu, static_cast<double>(m.used));
      append_sample(mem_total, "kiln_gpu_memory_total_bytes", gpu, static_cast<double>(m.total));
    }
    unsigned int mw = 0;
    if (api_->power(dev, &mw) == 0) append_sample(power, "kiln_gpu_power_watts", gpu, mw / 1000.0);
  }
  out += "# HELP kiln_gpu_utilization_ratio Fraction of time a kernel ran on the GPU (NVML).\n";
  out += "# TYPE kiln_gpu_utilization_ratio gauge\n" + util;
  out += "# HELP kiln_gpu_memory_used_bytes GPU memory in use (NVML).\n";
  out += "# TYPE kiln_gpu_memory_used_bytes gauge\n" + mem_used;
  out += "# HELP kiln_gpu_memory_total_bytes GPU memory in total (NVML).\n";
  out += "# TYPE kiln_gpu_memory_total_bytes gauge\n" + mem_total;
  out += "# HELP kiln_gpu_power_watts GPU power draw (NVML).\n";
  out += "# TYPE kiln_gpu_power_watts gauge\n" + power;
}

}  // namespace kiln::server
