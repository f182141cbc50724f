// Builds an ONNX model layer by layer while running it on a fixed synthetic calibration
// batch. Weights are He-normal from a std::mt19937 seeded by (model, layer name), so a
// model is the same on every machine and run; each BatchNormalization takes its running
// mean and variance from the activations it actually sees, so every normalized layer
// is zero-mean, unit-variance on the calibration batch and the network neither blows
// up nor collapses.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "zoo/calibration_ops.h"

namespace kiln::zoo {

class ModelBuilder {
 public:
  // `calibration` is the preprocessed calibration batch, NCHW, for input "input".
  ModelBuilder(std::string model_name, Activation calibration);

  // Each op appends a node whose output value is named after `name`, and returns it.
  std::string conv(const std::string& name, const std::string& x, int out_channels, int kernel, int stride,
                   int group = 1);
  // Explicit [top, left, bottom, right] pads (TensorFlow "SAME" can be asymmetric).
  std::string conv_padded(const std::string& name, const std::string& x, int out_channels, int kernel, int stride,
                          int group, const ConvGeometry& pads);
  std::string batch_norm(const std::string& name, const std::string& x);
  std::string relu(const std::string& name, const std::string& x);
  std::string relu6(const std::string& name, const std::string& x);  // Clip(0, 6)
  std::string add(const std::string& name, const std::string& a, const std::string& b);
  std::string max_pool(const std::string& name, const std::string& x, int kernel, int stride,
                       const ConvGeometry& pads);
  std::string global_average_pool(const std::string& name, const std::string& x);
  std::string flatten(const std::string& name, const std::string& x);
  // Fully connected layer (Gemm, transB = 1) producing `output_name`. Its bias is set so
  // that the logits are centred on the calibration batch and its weights rescaled to
  // the given logit standard deviation, so class scores depend on the image rather than
  // on a constant offset shared by every input.
  std::string classifier(const std::string& name, const std::string& x, int classes, float logit_std,
                         const std::string& output_name);

  int channels(const std::string& value) const { return activation(value).c; }
  int64_t parameter_count() const { return parameters_; }
  // Sets graph output `output` ([N, classes]) and returns the finished model.
  ::onnx::ModelProto finish(const std::string& output, const std::string& doc,
                            const std::vector<std::pair<std::string, std::string>>& metadata);

 private:
  const Activation& activation(const std::string& value) const;
  std::vector<float> he_normal(const std::string& layer, size_t count, int fan_in) const;
  std::string add_initializer(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<float>& values, bool trainable);
  ::onnx::NodeProto* add_node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                              const std::string& output);
  void store(const std::string& value, Activation a);

  std::string model_name_;
  ::onnx::ModelProto model_;
  std::map<std::string, Activation> activations_;
  int64_t parameters_ = 0;
  bool have_relu6_bounds_ = false;
};

// The synthetic calibration batch: smooth, image-like RGB scenes (colour gradients, soft
// blobs, edges and fine texture) normalized with ImageNet mean and std, NCHW.
Activation synthetic_calibration_batch(int batch, int size, uint32_t seed);

}  // namespace kiln::zoo
