#include "engine/precision.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace kiln {

static constexpr Precision kAll[] = {Precision::kNative, Precision::kFP32, Precision::kTF32,
                                     Precision::kFP16,   Precision::kBF16, Precision::kINT8,
                                     Precision::kFP8,    Precision::kBest};

std::string_view precision_name(Precision p) {
  switch (p) {
    case Precision::kNative: return "native";
    case Precision::kFP32: return "fp32";
    case Precision::kTF32: return "tf32";
    case Precision::kFP16: return "fp16";
    case Precision::kBF16: return "bf16";
    case Precision::kINT8: return "int8";
    case Precision::kFP8: return "fp8";
    case Precision::kBest: return "best";
  }
  return "?";
}

Precision parse_precision(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (Precision p : kAll) if (precision_name(p) == lower) return p;
  fail("unknown precision '{}' (expected native, fp32, tf32, fp16, bf16, int8, fp8 or best)", name);
}

void require_fp8_device(std::string_view gpu_name, int cc_major, int cc_minor) {
  if (cc_major > 8 || (cc_major == 8 && cc_minor >= 9)) return;
  fail_with(ErrorCode::kUnimplemented,
            "--precision fp8 needs FP8 tensor cores (compute capability 8.9 or newer: Ada, Hopper); {} has compute "
            "capability {}.{} (use fp16 or int8 there)",
            gpu_name, cc_major, cc_minor);
}

}  // namespace kiln
