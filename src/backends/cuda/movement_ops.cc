#include "backends/cuda/movement_ops.h"

#include "backends/cuda/kernels/strided_copy.h"
#include "backends/cuda/kernels/transpose.h"

namespace kiln::cuda {

namespace {

// Per-axis values in logical (NCHW) order -> memory order of `v`.
std::vector<int64_t> to_memory_order(const DeviceValue& v, std::vector<int64_t> logical) {
  if (v.layout != Layout::kNHWC || logical.size() != 4) return logical;
  return {logical[0], logical[2], logical[3], logical[1]};
}

// Logical axis -> its position in memory order.
int64_t memory_axis(const DeviceValue& v, int64_t axis) {
  if (v.layout != Layout::kNHWC || v.dims.size() != 4) return axis;
  static const int64_t kPos[4] = {0, 3, 1, 2};
  return kPos[axis];
}

class MovementOp : public DeviceOp {
 public:
  MovementOp(const ir::Node& node, const std::vector<DeviceValue>& values) {
    set_label(fmt::format("node \"{}\" ({})", node.name, node.op));
    x_ = node.inputs.at(0);
    xv_ = values[x_];
    reads = {x_};
    for (int v : node.outputs) {
      if (v == ir::kNoValue) continue;
      y_.push_back(v);
      yv_.push_back(values[v]);
      writes.push_back(v);
    }
    if (y_.empty()) fail("{}: no outputs", label());
  }

 protected:
  int x_ = -1;
  DeviceValue xv_;
  std::vector<int> y_;
  std::vector<DeviceValue> yv_;
};

class SliceOp : public MovementOp {
 public:
  SliceOp(const ir::Node& node, const std::vector<DeviceValue>& values) : MovementOp(node, values) {
    starts_ = to_memory_order(xv_, node.attrs.require_ints("starts"));
    steps_ = to_memory_order(xv_, node.attrs.require_ints("steps"));
    if (starts_.size() != xv_.dims.size() || steps_.size() != xv_.dims.size())
      fail("{}: starts/steps do not cover the input's {} axes", label(), xv_.dims.size());
  }
  void enqueue(const RunState& s) override {
    KILN_CUDA_CALL(label(), kernels::slice(dtype_size(xv_.dtype), xv_.physical_dims_at(s.batch), starts_, steps_,
                                           yv_[0].physical_dims_at(s.batch), s.at(x_), s.at(y_[0]), s.stream));
  }

 private:
  std::vector<int64_t> starts_, steps_;
};

class SplitOp : public MovementOp {
 public:
  SplitOp(const ir::Node& node, const std::vector<DeviceValue>& values) : MovementOp(node, values) {
    axis_ = memory_axis(xv_, node.attrs.get_int("axis", 0));
    sizes_ = node.attrs.require_ints("split");
    if (sizes_.size() != node.outputs.size()) fail("{}: {} sizes for {} outputs", label(), sizes_.size(), node.outputs.size());
    parts_ = node.outputs;
    for (int v : parts_) part_values_.push_back(v == ir::kNoValue ? DeviceValue{} : values[v]);
  }
  void enqueue(const RunState& s) override {
    const Dims x = xv_.physical_dims_at(s.batch);
    int64_t offset = 0;
    for (size_t i = 0; i < sizes_.size(); ++i) {
      if (parts_[i] != ir::kNoValue)
        KILN_CUDA_CALL(label(), kernels::copy_from_axis(dtype_size(xv_.dtype), part_values_[i].physical_dims_at(s.batch),
                                                        axis_, x[static_cast<size_t>(axis_)], offset, s.at(x_),
                                                        s.at(parts_[i]), s.stream));
      offset += sizes_[i];
    }
  }

 private:
  int64_t axis_ = 0;
  std::vector<int64_t> sizes_;
  std::vector<int> parts_;  // output value per part; kNoValue for omitted outputs
  std::vector<DeviceValue> part_values_;
};

class PadOp : public MovementOp {
 public:
  PadOp(const ir::Node& node, const std::vector<DeviceValue>& values) : MovementOp(node, values) {
    const auto pads = node.attrs.require_ints("pads");
    const size_t rank = xv_.dims.size();
    if (pads.size() != 2 * rank) fail("{}: {} pads for rank {}", label(), pads.size(), rank);
    begin_ = to_memory_order(xv_, {pads.begin(), pads.begin() + static_cast<long>(rank)});
    end_ = to_memory_order(xv_, {pads.begin() + static_cast<long>(rank), pads.end()});
    value_ = node.attrs.get_float("value", 0.0f);
  }
  void enqueue(const RunState& s) override {
    KILN_CUDA_CALL(label(), kernels::pad_constant(xv_.dtype, xv_.physical_dims_at(s.batch), begin_, end_, value_,
                                                  s.at(x_), s.at(y_[0]), s.stream));
  }

 private:
  std::vector<int64_t> begin_, end_;
  double value_ = 0;
};

class TransposeOp : public MovementOp {
 public:
  TransposeOp(const ir::Node& node, const std::vector<DeviceValue>& values) : MovementOp(node, values) {
    perm_ = node.attrs.require_ints("perm");
    if (xv_.layout != Layout::kNCHW || yv_[0].layout != Layout::kNCHW)
      fail_with(ErrorCode::kInternal, "{}: Transpose runs on NCHW-ordered values only", label());
  }
  void enqueue(const RunState& s) override {
    KILN_CUDA_CALL(label(), kernels::transpose(dtype_size(xv_.dtype), xv_.dims_at(s.batch), perm_, s.at(x_),
                                               s.at(y_[0]), s.stream));
  }

 private:
  std::vector<int64_t> perm_;
};

}  // namespace

std::unique_ptr<DeviceOp> make_movement_op(const ir::Node& node, const std::vector<DeviceValue>& values) {
  if (node.op == "Slice") return std::make_unique<SliceOp>(node, values);
  if (node.op == "Pad") return std::make_unique<PadOp>(node, values);
  if (node.op == "Transpose") return std::make_unique<TransposeOp>(node, values);
  if (node.op == "Split") return std::make_unique<SplitOp>(node, values);
  return nullptr;
}

}  // namespace kiln::cuda
