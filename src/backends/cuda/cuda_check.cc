#include "backends/cuda/cuda_check.h"

namespace kiln::cuda {

namespace {

std::string_view function_name(std::string_view call) {
  const size_t paren = call.find('(');
  return paren == std::string_view::npos ? call : call.substr(0, paren);
}

std::string prefix(std::string_view where) {
  return where.empty() ? std::string() : fmt::format("{}: ", where);
}

}  // namespace

void check_cuda(cudaError_t status, std::string_view where, std::string_view call) {
  if (status == cudaSuccess) return;
  const ErrorCode code = status == cudaErrorMemoryAllocation ? ErrorCode::kResourceExhausted : ErrorCode::kInternal;
  throw Error(fmt::format("{}{} failed: {} ({})", prefix(where), function_name(call), cudaGetErrorName(status),
                          cudaGetErrorString(status)),
              code);
}

void check_cudnn(cudnnStatus_t status, std::string_view where, std::string_view call) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  const ErrorCode code = status == CUDNN_STATUS_ALLOC_FAILED ? ErrorCode::kResourceExhausted : ErrorCode::kInternal;
  throw Error(fmt::format("{}{} failed: {}", prefix(where), function_name(call), cudnnGetErrorString(status)), code);
}

void check_cublas(cublasStatus_t status, std::string_view where, std::string_view call) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const ErrorCode code = status == CUBLAS_STATUS_ALLOC_FAILED ? ErrorCode::kResourceExhausted : ErrorCode::kInternal;
  throw Error(fmt::format("{}{} failed: {}", prefix(where), function_name(call), cublasGetStatusName(status)), code);
}

}  // namespace kiln::cuda
