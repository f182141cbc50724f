#include "backends/cpu/cpu_backend.h"
#include "engine/engine.h"
#include "runtime/cpu_int8_backend.h"

#ifdef KILN_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace kiln {

std::unique_ptr<Backend> make_backend(const std::string& device) {
  if (device == "cpu") return make_cpu_backend_with_int8();
  if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
#ifdef KILN_HAVE_CUDA
    int index = 0;
    if (device.size() > 5) {
      try {
        index = std::stoi(device.substr(5));
      } catch (const std::exception&) {
        fail("bad device '{}' (expected cpu, cuda or cuda:N)", device);
      }
    }
    return cuda::make_cuda_backend(index);
#else
    fail_with(ErrorCode::kUnavailable, "device '{}' asked for, but this kiln was built without CUDA", device);
#endif
  }
  fail("unknown device '{}' (expected cpu, cuda or cuda:N)", device);
}

std::string best_device() {
#ifdef KILN_HAVE_CUDA
  if (cuda::cuda_device_count() > 0) return "cuda:0";
#endif
  return "cpu";
}

}  // namespace kiln
