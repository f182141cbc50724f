// Just enough forward-pass math for the zoo to run a network while it builds it: each
// BatchNormalization's running statistics are measured on a fixed synthetic batch, so
// the synthetic-weight models keep activations in a sane range (data-dependent init).
// The runtime never uses these; the CPU backend is the reference for running models.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln::zoo {

// An NCHW float activation of the calibration batch.
struct Activation {
  int n = 0, c = 0, h = 0, w = 0;
  std::vector<float> data;
  size_t plane() const { return static_cast<size_t>(h) * w; }
};

struct ConvGeometry {
  int kernel = 1, stride = 1, group = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

// weights: [out_channels, in_channels / group, k, k].
Activation conv2d(const Activation& x, const std::vector<float>& weights, int out_channels, const ConvGeometry& g);
// Per-channel mean and (biased) variance over batch and space.
void channel_stats(const Activation& x, std::vector<float>* mean, std::vector<float>* var);
// y = scale * (x - mean) / sqrt(var + eps) + bias, per channel.
Activation batch_norm(const Activation& x, const std::vector<float>& scale, const std::vector<float>& bias,
                      const std::vector<float>& mean, const std::vector<float>& var, float eps);
Activation clip(const Activation& x, float lo, float hi);  // relu = clip(0, +inf)
Activation add(const Activation& a, const Activation& b);
Activation max_pool(const Activation& x, const ConvGeometry& g);
Activation global_average_pool(const Activation& x);  // -> [n, c, 1, 1]
// y[n, out] = x[n, :] * W^T + b, W: [out, in] (Gemm with transB = 1).
Activation dense(const Activation& x, const std::vector<float>& weights, const std::vector<float>& bias, int out);

}  // namespace kiln::zoo
