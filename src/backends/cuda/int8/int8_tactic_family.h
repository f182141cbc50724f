// The tactic families of an INT8 / FP8 convolution (see docs/precision.md, "Kernels
// (tactics)") and the environment knobs of their selection.
#pragma once

#include <optional>

namespace kiln::cuda::int8 {

// FP8 has no legacy family (cudnnConvolutionForward takes no FP8), and its cuBLASLt GEMM
// is named cublaslt_fp8. igemm is kiln's own tensor-core kernel (igemm_conv.h).
enum class Family { kLegacy, kDirect, kCudnnGraph, kCublasLt, kIgemm };

const char* family_name(Family f, bool fp8 = false);

// KILN_INT8_TACTIC=legacy|direct|cudnn_graph|cublaslt|igemm restricts tactic selection to one
// family (tests, and comparing families on one model); unset or empty: all families. Any
// other value throws kiln::Error naming the accepted ones.
std::optional<Family> forced_family();

// Fused graph candidates finalized per layer: runtime-fusion engines compile at finalize
// (about a second each), so the build time grows with this. KILN_INT8_GRAPH_CANDIDATES
// overrides the default of 4.
int graph_candidate_cap();

}  // namespace kiln::cuda::int8
