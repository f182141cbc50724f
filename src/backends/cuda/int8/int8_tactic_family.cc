#include "backends/cuda/int8/int8_tactic_family.h"

#include <cstdlib>
#include <string>

#include "core/error.h"

namespace kiln::cuda::int8 {

const char* family_name(Family f, bool fp8) {
  switch (f) {
    case Family::kLegacy: return "legacy";
    case Family::kDirect: return "direct";
    case Family::kCudnnGraph: return "cudnn_graph";
    case Family::kCublasLt: return fp8 ? "cublaslt_fp8" : "cublaslt_imma";
    case Family::kIgemm: return "igemm";
  }
  return "?";
}

std::optional<Family> forced_family() {
  const char* env = std::getenv("KILN_INT8_TACTIC");
  if (!env || !*env) return std::nullopt;
  const std::string v = env;
  if (v == "legacy") return Family::kLegacy;
  if (v == "direct") return Family::kDirect;
  if (v == "cudnn_graph") return Family::kCudnnGraph;
  if (v == "cublaslt" || v == "cublaslt_imma" || v == "cublaslt_fp8") return Family::kCublasLt;
  if (v == "igemm") return Family::kIgemm;
  fail("KILN_INT8_TACTIC=\"{}\": expected legacy, direct, cudnn_graph, cublaslt or igemm", v);
}

int graph_candidate_cap() {
  const char* env = std::getenv("KILN_INT8_GRAPH_CANDIDATES");
  const int n = env ? std::atoi(env) : 0;
  return n > 0 ? n : 4;
}

}  // namespace kiln::cuda::int8
