// Precision modes an engine can be built in.
#pragma once

#include <string>
#include <string_view>

namespace kiln {

enum class Precision {
  kNative,  // the imported graph as is: FP32, NCHW, no fusion — the "framework" baseline
  kFP32,
  kTF32,
  kFP16,
  kBF16,
  kINT8,
  kFP8,
  kBest,    // fastest precision per layer
};

std::string_view precision_name(Precision p);  // "native", "fp32", ...
// Case-insensitive parse ("FP16", "fp16", "INT8" ...); throws kiln::Error listing the valid names.
Precision parse_precision(std::string_view name);

// FP8 (E4M3) tensor cores exist from compute capability 8.9 (Ada, Hopper) on: throws a
// kUnimplemented kiln::Error naming the GPU and its compute capability on older ones.
void require_fp8_device(std::string_view gpu_name, int cc_major, int cc_minor);

}  // namespace kiln
