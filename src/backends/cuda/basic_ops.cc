#include "backends/cuda/basic_ops.h"

#include "backends/cuda/kernels/cast.h"
#include "backends/cuda/kernels/channel_affine.h"
#include "backends/cuda/kernels/elementwise.h"
#include "backends/cuda/kernels/input_stage.h"
#include "backends/cuda/kernels/pooling.h"
#include "backends/cuda/kernels/softmax.h"
#include "backends/cuda/kernels/strided_copy.h"
#include "backends/cuda/kernels/transpose.h"
#include "backends/cuda/movement_ops.h"

namespace kiln::cuda {

namespace {

using namespace kernels;

// Common part: label, value descriptions, input/output ids.
class NodeOp : public DeviceOp {
 public:
  NodeOp(const ir::Node& node, const std::vector<DeviceValue>& values) {
    set_label(fmt::format("node \"{}\" ({})", node.name, node.op));
    for (int v : node.inputs) {
      if (v == ir::kNoValue) continue;
      in_.push_back(values[v]);
      in_id_.push_back(v);
      reads.push_back(v);
    }
    out_ = values[node.outputs.at(0)];
    out_id_ = node.outputs[0];
    writes = {out_id_};
  }

 protected:
  std::vector<DeviceValue> in_;
  std::vector<int> in_id_;
  DeviceValue out_;
  int out_id_ = -1;
};

class AliasOp : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void enqueue(const RunState&) override {}
};

class UnaryOp : public NodeOp {
 public:
  UnaryOp(const ir::Node& node, const std::vector<DeviceValue>& values) : NodeOp(node, values) {
    const auto& a = node.attrs;
    if (node.op == "Relu") act_.kind = ActivationKind::kRelu;
    else if (node.op == "Sigmoid") act_.kind = ActivationKind::kSigmoid;
    else if (node.op == "Tanh") act_.kind = ActivationKind::kTanh;
    else if (node.op == "LeakyRelu") act_ = {ActivationKind::kLeakyRelu, a.get_float("alpha", 0.01f), 0};
    else if (node.op == "HardSigmoid")
      act_ = {ActivationKind::kHardSigmoid, a.get_float("alpha", 0.2f), a.get_float("beta", 0.5f)};
    else if (node.op == "HardSwish") act_.kind = ActivationKind::kHardSwish;
    else if (node.op == "Clip")
      act_ = {ActivationKind::kClip, a.get_float("min", -3.4028235e38f), a.get_float("max", 3.4028235e38f)};
  }
  void enqueue(const RunState& s) override {
    KILN_CUDA_CALL(label(), activation(act_, out_.dtype, num_elements(out_.dims_at(s.batch)), s.at(in_id_[0]),
                                       s.at(out_id_), s.stream));
  }

 private:
  Activation act_;
};

class BinaryNodeOp : public NodeOp {
 public:
  BinaryNodeOp(const ir::Node& node, const std::vector<DeviceValue>& values) : NodeOp(node, values) {
    op_ = node.op == "Add" ? BinaryOp::kAdd : node.op == "Sub" ? BinaryOp::kSub
        : node.op == "Mul" ? BinaryOp::kMul : BinaryOp::kDiv;
  }
  void enqueue(const RunState& s) override {
    KILN_CUDA_CALL(label(), binary(op_, out_.dtype, in_[0].physical_dims_at(s.batch), s.at(in_id_[0]),
                                   in_[1].physical_dims_at(s.batch), s.at(in_id_[1]), s.at(out_id_), s.stream));
  }

 private:
  BinaryOp op_;
};

// BatchNormalization lowered to y = x * scale[c] + shift[c] (inputs X, scale, shift).
class AffineOp : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void enqueue(const RunState& s) override {
    const Dims d = out_.dims_at(s.batch);
    ChannelAffineParams p;
    p.layout = out_.layout;
    p.dtype = out_.dtype;
    p.n = d[0];
    p.c = d.size() > 1 ? d[1] : 1;
    p.spatial = 1;
    for (size_t i = 2; i < d.size(); ++i) p.spatial *= d[i];
    KILN_CUDA_CALL(label(), channel_affine(p, s.at(in_id_[0]), static_cast<const float*>(s.at(in_id_[1])),
                                           static_cast<const float*>(s.at(in_id_[2])), nullptr, s.at(out_id_),
                                           s.stream));
  }
};

class PoolOp : public NodeOp {
 public:
  PoolOp(const ir::Node& node, const std::vector<DeviceValue>& values) : NodeOp(node, values) {
    global_ = node.op.rfind("Global", 0) == 0;
    kind_ = node.op.find("Max") != std::string::npos ? PoolKind::kMax : PoolKind::kAverage;
    if (global_) return;
    const auto& a = node.attrs;
    const auto k = a.require_ints("kernel_shape");
    const auto st = a.get_ints("strides", {1, 1});
    const auto pads = a.get_ints("pads", {0, 0, 0, 0});
    const auto dil = a.get_ints("dilations", {1, 1});
    if (k.size() != 2 || st.size() != 2 || pads.size() != 4 || dil.size() != 2)
      fail_with(ErrorCode::kUnimplemented, "{}: only 2-D pooling runs on the GPU", label());
    p_.kind = kind_;
    p_.kernel_h = static_cast<int>(k[0]);
    p_.kernel_w = static_cast<int>(k[1]);
    p_.stride_h = static_cast<int>(st[0]);
    p_.stride_w = static_cast<int>(st[1]);
    p_.pad_top = static_cast<int>(pads[0]);
    p_.pad_left = static_cast<int>(pads[1]);
    p_.pad_bottom = static_cast<int>(pads[2]);
    p_.pad_right = static_cast<int>(pads[3]);
    p_.dilation_h = static_cast<int>(dil[0]);
    p_.dilation_w = static_cast<int>(dil[1]);
    p_.count_include_pad = a.get_int("count_include_pad", 0) != 0;
  }
  void enqueue(const RunState& s) override {
    const Dims x = in_[0].dims_at(s.batch);
    const Dims y = out_.dims_at(s.batch);
    if (global_) {
      KILN_CUDA_CALL(label(), global_pool(kind_, in_[0].layout, out_.dtype, x[0], x[1], x[2] * x[3], s.at(in_id_[0]),
                                          s.at(out_id_), s.stream));
      return;
    }
    Pool2dParams p = p_;
    p.layout = in_[0].layout;
    p.dtype = out_.dtype;
    p.n = x[0];
    p.c = x[1];
    p.in_h = x[2];
    p.in_w = x[3];
    p.out_h = y[2];
    p.out_w = y[3];
    KILN_CUDA_CALL(label(), pool2d(p, s.at(in_id_[0]), s.at(out_id_), s.stream));
  }

 private:
  bool global_ = false;
  PoolKind kind_ = PoolKind::kMax;
  Pool2dParams p_;
};

class SoftmaxOp : public NodeOp {
 public:
  SoftmaxOp(const ir::Node& node, const std::vector<DeviceValue>& values)
      : NodeOp(node, values), log_(node.op == "LogSoftmax") {}
  void enqueue(const RunState& s) override {
    const Dims d = in_[0].dims_at(s.batch);
    const int64_t cols = d.empty() ? 1 : d.back();
    const int64_t rows = num_elements(d) / std::max<int64_t>(cols, 1);
    KILN_CUDA_CALL(label(), softmax_last_axis(in_[0].dtype, rows, cols, s.at(in_id_[0]),
                                              static_cast<float*>(s.at(out_id_)), log_, s.stream));
  }

 private:
  bool log_;
};

class ConcatOp : public NodeOp {
 public:
  ConcatOp(const ir::Node& node, const std::vector<DeviceValue>& values) : NodeOp(node, values) {
    const int64_t rank = static_cast<int64_t>(out_.dims.size());
    int64_t axis = normalize_axis(node.attrs.get_int("axis", 0), rank);
    if (out_.layout == Layout::kNHWC) axis = axis == 1 ? 3 : axis >= 2 ? axis - 1 : axis;  // into memory order
    axis_ = axis;
  }
  void enqueue(const RunState& s) override {
    const Dims y = out_.physical_dims_at(s.batch);
    int64_t offset = 0;
    const size_t es = dtype_size(out_.dtype);
    for (size_t i = 0; i < in_.size(); ++i) {
      const Dims part = in_[i].physical_dims_at(s.batch);
      KILN_CUDA_CALL(label(), copy_into_axis(es, part, axis_, y[static_cast<size_t>(axis_)], offset,
                                             s.at(in_id_[i]), s.at(out_id_), s.stream));
      offset += part[static_cast<size_t>(axis_)];
    }
  }

 private:
  int64_t axis_ = 0;
};

// kiln.Convert: dtype and/or memory order. With both changing, the cast goes through the
// workspace first (in the source order), then the transpose writes the output.
class ConvertOp : public NodeOp {
 public:
  using NodeOp::NodeOp;
  size_t workspace_bytes() const override {
    const DeviceValue& x = in_[0];
    return x.dtype != out_.dtype && x.layout != out_.layout ? out_.bytes_at(static_cast<int>(out_.dims.empty() ? 1 : out_.dims[0])) : 0;
  }
  void enqueue(const RunState& s) override {
    const DeviceValue& x = in_[0];
    const int64_t count = num_elements(x.dims_at(s.batch));
    const void* src = s.at(in_id_[0]);
    void* dst = s.at(out_id_);
    if (x.layout == out_.layout) {
      KILN_CUDA_CALL(label(), cast(x.dtype, out_.dtype, count, src, dst, s.stream));
      return;
    }
    if (x.dtype != out_.dtype) {
      if (s.workspace_bytes < count * dtype_size(out_.dtype))
        fail_with(ErrorCode::kInternal, "{}: workspace too small for the conversion", label());
      KILN_CUDA_CALL(label(), cast(x.dtype, out_.dtype, count, src, s.workspace, s.stream));
      src = s.workspace;
    }
    const Dims d = x.dims_at(s.batch);
    const size_t es = dtype_size(out_.dtype);
    if (out_.layout == Layout::kNHWC)
      KILN_CUDA_CALL(label(), nchw_to_nhwc(es, d[0], d[1], d[2], d[3], src, dst, s.stream));
    else
      KILN_CUDA_CALL(label(), nhwc_to_nchw(es, d[0], d[1], d[2], d[3], src, dst, s.stream));
  }
};

// kiln.InputStage (image_input.h): uint8 [N,H,W,3] pixels -> normalized activations.
class InputStageOp : public NodeOp {
 public:
  InputStageOp(const ir::Node& node, const std::vector<DeviceValue>& values) : NodeOp(node, values) {
    const auto& a = node.attrs;
    const auto mean = a.get_floats("mean", {0, 0, 0});
    const auto std = a.get_floats("std", {1, 1, 1});
    if (mean.size() != 3 || std.size() != 3) fail("{}: mean and std need 3 values each", label());
    for (int c = 0; c < 3; ++c) {
      p_.mean[c] = mean[c];
      p_.std[c] = std[c];
    }
    p_.scale = a.get_float("scale", 1.0f);
    p_.bgr = a.get_int("bgr", 0) != 0;
    p_.layout = out_.layout;
    p_.out_dtype = out_.dtype;
  }
  void enqueue(const RunState& s) override {
    const Dims d = in_[0].dims_at(s.batch);  // [N, H, W, 3]
    InputStageParams p = p_;
    p.n = d[0];
    p.height = d[1];
    p.width = d[2];
    KILN_CUDA_CALL(label(), input_stage(p, static_cast<const uint8_t*>(s.at(in_id_[0])), s.at(out_id_), s.stream));
  }

 private:
  InputStageParams p_;
};

}  // namespace

bool is_alias_op(const std::string& op) {
  return op == "Flatten" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" || op == "Identity" ||
         op == "Dropout";
}

std::unique_ptr<DeviceOp> make_basic_op(const ir::Node& node, const std::vector<DeviceValue>& values) {
  const std::string& op = node.op;
  if (is_alias_op(op)) return std::make_unique<AliasOp>(node, values);
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "LeakyRelu" || op == "HardSigmoid" ||
      op == "HardSwish" || op == "Clip")
    return std::make_unique<UnaryOp>(node, values);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return std::make_unique<BinaryNodeOp>(node, values);
  if (op == "BatchNormalization") return std::make_unique<AffineOp>(node, values);
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" || op == "GlobalMaxPool")
    return std::make_unique<PoolOp>(node, values);
  if (op == "Softmax" || op == "LogSoftmax") return std::make_unique<SoftmaxOp>(node, values);
  if (op == "Concat") return std::make_unique<ConcatOp>(node, values);
  if (op == "Convert") return std::make_unique<ConvertOp>(node, values);
  if (op == "InputStage") return std::make_unique<InputStageOp>(node, values);
  return make_movement_op(node, values);
}

}  // namespace kiln::cuda
