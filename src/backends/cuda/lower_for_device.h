// Precision and memory-order assignment for the CUDA backend.
//
// Takes an (optimized) graph and returns the graph the device runs: every value gets its
// device dtype and memory order, weights are converted to their final layout and precision
// on the host, and `kiln.Convert` nodes (attr `layout`: 0 NCHW, 1 NHWC; output dtype = the
// target dtype) sit wherever a consumer needs another form than its producer gives.
//
//   native       f32, NCHW everywhere, nodes as imported (the framework baseline)
//   fp32         f32, NCHW (IEEE fp32 has no tensor-core NHWC advantage), fused ops
//   tf32         f32 activations in NHWC for rank-4 tensors
//   fp16 / bf16  f16 / bf16 activations in NHWC
// In every mode softmax runs in f32, GEMM outputs are f32 and graph outputs are f32 NCHW,
// because class scores are compared and thresholded and need the range and precision.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "backends/cuda/device_program.h"
#include "engine/precision.h"
#include "ir/graph.h"
#include "quant/calibration.h"

namespace kiln::cuda {

struct LoweredGraph {
  ir::Graph graph;               // shapes at max batch; constants in final dtype and memory order
  std::vector<Layout> layouts;   // per value of `graph`
  std::vector<bool> batched;     // per value: dims[0] follows the run's batch size
};

// Activation dtype of a precision (f32 for native/fp32/tf32); throws kUnimplemented for
// precisions the CUDA backend does not build.
DType activation_dtype(Precision precision);

// Throws kiln::Error naming the node for ops or forms the CUDA backend cannot run.
// int8: convolutions the calibration `table` covers run in INT8 (see int8/int8_lowering.h),
// everything else in fp16; `table` is required for int8, fp8 and best and ignored otherwise.
// best: as int8, but only the convolutions named in `int8_nodes` may run in INT8 (all
// eligible ones when it is null). Lowered nodes keep their source node's name.
LoweredGraph lower_for_device(const ir::Graph& graph, Precision precision, int max_batch,
                              const quant::CalibrationTable* table = nullptr,
                              const std::set<std::string>* int8_nodes = nullptr);

// Op types the lowering and the op factory accept.
bool cuda_supports_op(const std::string& op);

// A host tensor in `layout` memory order (logical dims unchanged) and `dtype`.
Tensor convert_constant(const Tensor& t, DType dtype, Layout layout);

}  // namespace kiln::cuda
