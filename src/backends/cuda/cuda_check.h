// Checked calls into CUDA, cuDNN and cuBLAS. Every failure becomes a kiln::Error (kInternal,
// or kResourceExhausted for out-of-memory) whose message names the node being built or run,
// the library call and the library's status name:
//   node "conv1" (FusedConv): cudnnConvolutionForward failed: CUDNN_STATUS_BAD_PARAM
#pragma once

#include <string_view>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "core/error.h"

namespace kiln::cuda {

// `where` is the context ("node \"conv1\" (FusedConv)", "engine build"), `call` the function.
void check_cuda(cudaError_t status, std::string_view where, std::string_view call);
void check_cudnn(cudnnStatus_t status, std::string_view where, std::string_view call);
void check_cublas(cublasStatus_t status, std::string_view where, std::string_view call);

}  // namespace kiln::cuda

// The called function's name is taken from the expression text, up to its '('.
#define KILN_CUDA_CALL(where, expr) ::kiln::cuda::check_cuda((expr), (where), #expr)
#define KILN_CUDNN_CALL(where, expr) ::kiln::cuda::check_cudnn((expr), (where), #expr)
#define KILN_CUBLAS_CALL(where, expr) ::kiln::cuda::check_cublas((expr), (where), #expr)
