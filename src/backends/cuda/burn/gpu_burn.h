// `kiln burn`: a burn-in test that keeps every chosen GPU at full load with large
// cuBLASLt GEMMs (f16 and tf32) and checks every result bitwise against the first one.
// cuBLASLt with one fixed, reduction-free algorithm is deterministic on a given GPU, so
// any differing bit means the GPU computed wrongly (heat, power, memory or silicon
// faults), the failure gpu-burn looks for.
//
// One host thread per GPU owns its device, stream and buffers; the calling thread prints
// a report line per GPU every interval (throughput, NVML telemetry, error count).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace kiln::cuda::burn {

struct BurnOptions {
  double seconds = 600.0;
  std::vector<int> gpus;            // CUDA ordinals; empty = all
  double memory_fraction = 0.9;     // of each GPU's total memory, capped by what is free
  double report_interval = 10.0;    // seconds between report lines
  int64_t matrix_size = 8192;       // square GEMMs of this size (shrunk if memory is short)
  bool use_f16 = true;
  bool use_tf32 = true;
  // Self-test of the checker: corrupts one word of one result once, between its GEMM and
  // its comparison, so a healthy GPU must be reported as faulty (exit 1).
  bool inject_fault = false;
};

struct BurnGpuResult {
  int device = -1;
  std::string name;
  uint64_t gemms_checked = 0;
  uint64_t mismatched_words = 0;
  double average_tflops = 0.0;
  std::string failure;  // a CUDA / cuBLASLt error that stopped this GPU's run
  bool clean() const { return mismatched_words == 0 && failure.empty() && gemms_checked > 0; }
};

struct BurnResult {
  std::vector<BurnGpuResult> gpus;
  bool clean() const;
};

// Number of CUDA devices (0 without a driver or GPU).
int cuda_gpu_count();

// Parses "all" or a comma list "0,1"; throws kiln::Error on a bad or absent index.
std::vector<int> parse_gpu_list(const std::string& text, int device_count);

// Runs the burn-in, printing progress to `out`. Throws kiln::Error with code
// kUnavailable ("no CUDA GPU found") when there is no GPU, kInvalidArgument on bad options.
BurnResult run_burn(const BurnOptions& options, std::FILE* out);

}  // namespace kiln::cuda::burn
