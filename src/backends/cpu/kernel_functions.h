// Declarations of the kernels listed in kernel_table.cc; definitions live in
// one file per op family (elementwise.cc, conv.cc, pool.cc, ...).
#pragma once

#include "backends/cpu/kernel_inputs.h"
#include "backends/cpu/kernels.h"

namespace kiln::cpu {

using Outputs = std::vector<Tensor>;

// elementwise.cc: numpy-broadcasting arithmetic.
Outputs add(const ir::Node& n, const Inputs& in);
Outputs sub(const ir::Node& n, const Inputs& in);
Outputs mul(const ir::Node& n, const Inputs& in);
Outputs div(const ir::Node& n, const Inputs& in);
Outputs sum(const ir::Node& n, const Inputs& in);

// activation.cc
Outputs relu(const ir::Node& n, const Inputs& in);
Outputs leaky_relu(const ir::Node& n, const Inputs& in);
Outputs clip(const ir::Node& n, const Inputs& in);
Outputs sigmoid(const ir::Node& n, const Inputs& in);
Outputs hard_sigmoid(const ir::Node& n, const Inputs& in);
Outputs hard_swish(const ir::Node& n, const Inputs& in);
Outputs tanh_op(const ir::Node& n, const Inputs& in);

// conv.cc
Outputs conv(const ir::Node& n, const Inputs& in);
Outputs fused_conv(const ir::Node& n, const Inputs& in);

// gemm.cc
Outputs gemm(const ir::Node& n, const Inputs& in);
Outputs fused_gemm(const ir::Node& n, const Inputs& in);
Outputs matmul(const ir::Node& n, const Inputs& in);

// pool.cc
Outputs max_pool(const ir::Node& n, const Inputs& in);
Outputs average_pool(const ir::Node& n, const Inputs& in);
Outputs global_average_pool(const ir::Node& n, const Inputs& in);
Outputs global_max_pool(const ir::Node& n, const Inputs& in);

// normalization.cc
Outputs batch_normalization(const ir::Node& n, const Inputs& in);
Outputs lrn(const ir::Node& n, const Inputs& in);

// softmax.cc
Outputs softmax(const ir::Node& n, const Inputs& in);
Outputs log_softmax(const ir::Node& n, const Inputs& in);

// reduce.cc
Outputs reduce_mean(const ir::Node& n, const Inputs& in);

// shape_ops.cc: ops that only move or relabel data.
Outputs identity(const ir::Node& n, const Inputs& in);
Outputs dropout(const ir::Node& n, const Inputs& in);
Outputs flatten(const ir::Node& n, const Inputs& in);
Outputs reshape(const ir::Node& n, const Inputs& in);
Outputs squeeze(const ir::Node& n, const Inputs& in);
Outputs unsqueeze(const ir::Node& n, const Inputs& in);
Outputs shape(const ir::Node& n, const Inputs& in);

// data_movement.cc: ops that copy data into a new layout.
Outputs transpose(const ir::Node& n, const Inputs& in);
Outputs concat(const ir::Node& n, const Inputs& in);
Outputs split(const ir::Node& n, const Inputs& in);
Outputs slice(const ir::Node& n, const Inputs& in);
Outputs gather(const ir::Node& n, const Inputs& in);

// pad.cc
Outputs pad(const ir::Node& n, const Inputs& in);

// cast.cc
Outputs cast(const ir::Node& n, const Inputs& in);

// quantize.cc
Outputs quantize_linear(const ir::Node& n, const Inputs& in);
Outputs dequantize_linear(const ir::Node& n, const Inputs& in);

}  // namespace kiln::cpu
