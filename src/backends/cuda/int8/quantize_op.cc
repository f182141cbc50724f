#include "backends/cuda/int8/quantize_op.h"

#include "backends/cuda/int8/int8_kernels.h"
#include "backends/cuda/tactic_timer.h"

namespace kiln::cuda {

namespace {

// N * H * W of an activation at `batch`: the rows of the NHWC tensor.
int64_t pixels_of(const DeviceValue& v, int batch) {
  const Dims d = v.dims_at(batch);
  return d[0] * d[2] * d[3];
}

class QuantizeOp : public DeviceOp {
 public:
  QuantizeOp(const ir::Node& node, const std::vector<DeviceValue>& values) {
    set_label(fmt::format("node \"{}\" ({})", node.name, node.op));
    x_ = node.inputs.at(0);
    y_ = node.outputs.at(0);
    reads = {x_};
    writes = {y_};
    xv_ = values[x_];
    c_ = static_cast<int>(values[x_].dims.at(1));
    c_pad_ = static_cast<int>(values[y_].dims.at(1));
    inv_scale_ = node.attrs.get_float("inv_scale", 1.0f);
    fp8_ = values[y_].dtype == DType::kFP8E4M3;
    if (node.attrs.has("space_to_depth")) {
      // Into the space-to-depth image of a stride-2 stem (quant/space_to_depth.h).
      const auto pads = node.attrs.get_ints("space_to_depth");
      if (pads.size() != 2 || values[x_].dims.size() != 4 || values[y_].dims.size() != 4 ||
          values[y_].dims[1] != 16 || 4 * c_ > 16)
        fail("{}: malformed space-to-depth quantization of {} into {}", label(), dims_to_string(values[x_].dims),
             dims_to_string(values[y_].dims));
      s2d_ = true;
      s2d_params_.c = c_;
      s2d_params_.h = static_cast<int>(values[x_].dims[2]);
      s2d_params_.w = static_cast<int>(values[x_].dims[3]);
      s2d_params_.pad_top = static_cast<int>(pads[0]);
      s2d_params_.pad_left = static_cast<int>(pads[1]);
      s2d_params_.hs = static_cast<int>(values[y_].dims[2]);
      s2d_params_.ws = static_cast<int>(values[y_].dims[3]);
      s2d_params_.x_is_f16 = xv_.dtype == DType::kF16;
      s2d_params_.x_nhwc = node.attrs.get_int("x_nhwc", 0) != 0;
      s2d_params_.fp8 = fp8_;
      s2d_params_.inv_scale = inv_scale_;
    }
    if (xv_.dtype != DType::kF16 && xv_.dtype != DType::kF32)
      fail_with(ErrorCode::kUnimplemented, "{}: quantizes f32/f16, not {}", label(), dtype_name(xv_.dtype));
  }
  // Nothing to choose, but the time is what an INT8 layer's input conversion costs, which
  // `--precision best` weighs against the layer's gain (never cached: it takes microseconds).
  void select_tactic(TacticTimer& timer) override {
    RunState state = timer.state;
    if (!timer.batches.empty()) state.batch = timer.batches.back();
    ms_ = timer.time_ms([&] { enqueue(state); });
  }
  double tactic_ms() const override { return ms_; }

  void enqueue(const RunState& s) override {
    if (s2d_) {
      int8::SpaceToDepthParams p = s2d_params_;
      p.n = static_cast<int>(xv_.dims_at(s.batch)[0]);
      KILN_CUDA_CALL(label(), int8::quantize_space_to_depth(p, s.at(x_), s.at(y_), s.stream));
      return;
    }
    const bool f16 = xv_.dtype == DType::kF16;
    const int64_t pixels = pixels_of(xv_, s.batch);
    if (fp8_)
      KILN_CUDA_CALL(label(), int8::quantize_nhwc_fp8(s.at(x_), f16, pixels, c_, c_pad_, inv_scale_,
                                                      static_cast<uint8_t*>(s.at(y_)), s.stream));
    else
      KILN_CUDA_CALL(label(), int8::quantize_nhwc(s.at(x_), f16, pixels, c_, c_pad_, inv_scale_,
                                                  static_cast<int8_t*>(s.at(y_)), s.stream));
  }

 private:
  int x_ = -1, y_ = -1, c_ = 0, c_pad_ = 0;
  float inv_scale_ = 1;
  bool fp8_ = false, s2d_ = false;
  int8::SpaceToDepthParams s2d_params_;
  double ms_ = 0;
  DeviceValue xv_;
};

}  // namespace

std::unique_ptr<DeviceOp> make_quantize_op(const ir::Node& node, const std::vector<DeviceValue>& values) {
  return std::make_unique<QuantizeOp>(node, values);
}

}  // namespace kiln::cuda
