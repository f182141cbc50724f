// `kiln burn`: GPU burn-in with result checking (see backends/cuda/burn/gpu_burn.h).
// Compiles with or without CUDA; without it the command exists and says there is no GPU.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/subcommands.h"
#include "core/error.h"

#if KILN_HAVE_CUDA
#include "backends/cuda/burn/gpu_burn.h"
#endif

namespace kiln::cli {

int run_burn(int argc, char** argv) {
  CLI::App app{"Load every chosen GPU with checked GEMMs to find faulty or unstable GPUs", "kiln burn"};
  double seconds = 600.0, memory_fraction = 0.9, report_interval = 10.0;
  std::string gpus = "all", precision = "f16,tf32";
  int64_t matrix_size = 8192;
  app.add_option("--seconds", seconds, "how long to run")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--gpus", gpus, "all, or a comma list of CUDA device indices")->capture_default_str();
  app.add_option("--memory-fraction", memory_fraction, "fraction of each GPU's memory to fill")
      ->check(CLI::Range(0.01, 0.98))
      ->capture_default_str();
  app.add_option("--report-interval", report_interval, "seconds between report lines")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--precision", precision, "GEMM precisions: f16, tf32 or f16,tf32")->capture_default_str();
  app.add_option("--matrix-size", matrix_size, "size of the square GEMMs")->capture_default_str();
  bool inject_fault = false;
  app.add_flag("--inject-fault", inject_fault, "self-test: corrupt one result once; the run must then fail");
  CLI11_PARSE(app, argc, argv);

  const bool use_f16 = precision.find("f16") != std::string::npos;
  const bool use_tf32 = precision.find("tf32") != std::string::npos;
  KILN_CHECK(use_f16 || use_tf32, "--precision \"{}\": expected f16, tf32 or f16,tf32", precision);

#if KILN_HAVE_CUDA
  const int count = cuda::burn::cuda_gpu_count();
  if (count == 0) {
    std::fprintf(stderr, "kiln burn: no CUDA GPU found\n");
    return kExitNoDevice;
  }
  cuda::burn::BurnOptions options;
  options.seconds = seconds;
  options.gpus = cuda::burn::parse_gpu_list(gpus, count);
  options.memory_fraction = memory_fraction;
  options.report_interval = report_interval;
  options.matrix_size = matrix_size;
  options.use_f16 = use_f16;
  options.use_tf32 = use_tf32;
  options.inject_fault = inject_fault;
  const cuda::burn::BurnResult result = cuda::burn::run_burn(options, stdout);
  return result.clean() ? kExitOk : kExitError;
#else
  std::fprintf(stderr, "kiln burn: no CUDA GPU found (this kiln was built without CUDA support)\n");
  return kExitNoDevice;
#endif
}

}  // namespace kiln::cli
