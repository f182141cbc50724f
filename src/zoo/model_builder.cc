#include "zoo/model_builder.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/error.h"

namespace kiln::zoo {
namespace {

constexpr float kBatchNormEpsilon = 1e-5f;

// FNV-1a: a stable seed from a string (std::hash may differ between libraries).
uint32_t stable_seed(const std::string& text) {
  uint32_t h = 2166136261u;
  for (unsigned char ch : text) h = (h ^ ch) * 16777619u;
  return h;
}

void add_ints(::onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& values) {
  auto* attr = node->add_attribute();
  attr->set_name(name);
  attr->set_type(::onnx::AttributeProto::INTS);
  for (int64_t v : values) attr->add_ints(v);
}
void add_int(::onnx::NodeProto* node, const std::string& name, int64_t value) {
  auto* attr = node->add_attribute();
  attr->set_name(name);
  attr->set_type(::onnx::AttributeProto::INT);
  attr->set_i(value);
}
void add_float(::onnx::NodeProto* node, const std::string& name, float value) {
  auto* attr = node->add_attribute();
  attr->set_name(name);
  attr->set_type(::onnx::AttributeProto::FLOAT);
  attr->set_f(value);
}

ConvGeometry symmetric(int kernel, int stride, int group) {
  const int pad = kernel / 2;
  return ConvGeometry{kernel, stride, group, pad, pad, pad, pad};
}

}  // namespace

ModelBuilder::ModelBuilder(std::string model_name, Activation calibration) : model_name_(std::move(model_name)) {
  model_.set_ir_version(7);
  auto* opset = model_.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  model_.set_producer_name("kiln zoo");
  model_.set_model_version(1);
  auto* graph = model_.mutable_graph();
  graph->set_name(model_name_);
  auto* input = graph->add_input();
  input->set_name("input");
  auto* tensor_type = input->mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(::onnx::TensorProto::FLOAT);
  auto* shape = tensor_type->mutable_shape();
  shape->add_dim()->set_dim_param("N");
  shape->add_dim()->set_dim_value(calibration.c);
  shape->add_dim()->set_dim_value(calibration.h);
  shape->add_dim()->set_dim_value(calibration.w);
  activations_["input"] = std::move(calibration);
}

const Activation& ModelBuilder::activation(const std::string& value) const {
  auto it = activations_.find(value);
  KILN_CHECK(it != activations_.end(), "zoo model {}: no value named \"{}\"", model_name_, value);
  return it->second;
}

void ModelBuilder::store(const std::string& value, Activation a) {
  KILN_CHECK(!activations_.count(value), "zoo model {}: value \"{}\" defined twice", model_name_, value);
  activations_[value] = std::move(a);
}

std::vector<float> ModelBuilder::he_normal(const std::string& layer, size_t count, int fan_in) const {
  std::mt19937 rng(stable_seed(model_name_ + "/" + layer));
  std::normal_distribution<float> normal(0.f, std::sqrt(2.f / static_cast<float>(fan_in)));
  std::vector<float> values(count);
  for (float& v : values) v = normal(rng);
  return values;
}

std::string ModelBuilder::add_initializer(const std::string& name, const std::vector<int64_t>& dims,
                                          const std::vector<float>& values, bool trainable) {
  auto* tensor = model_.mutable_graph()->add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(::onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tensor->add_dims(d);
  // raw_data is little-endian IEEE floats, as on every platform kiln runs on.
  tensor->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  if (trainable) parameters_ += static_cast<int64_t>(values.size());
  return name;
}

::onnx::NodeProto* ModelBuilder::add_node(const std::string& op, const std::string& name,
                                          const std::vector<std::string>& inputs, const std::string& output) {
  auto* node = model_.mutable_graph()->add_node();
  node->set_op_type(op);
  node->set_name(name);
  for (const auto& in : inputs) node->add_input(in);
  node->add_output(output);
  return node;
}

std::string ModelBuilder::conv(const std::string& name, const std::string& x, int out_channels, int kernel,
                               int stride, int group) {
  return conv_padded(name, x, out_channels, kernel, stride, group, symmetric(kernel, stride, group));
}

std::string ModelBuilder::conv_padded(const std::string& name, const std::string& x, int out_channels, int kernel,
                                      int stride, int group, const ConvGeometry& pads) {
  const Activation& in = activation(x);
  KILN_CHECK(in.c % group == 0 && out_channels % group == 0, "zoo model {}: {} channels do not split into {} groups",
             model_name_, name, group);
  const int fan_in = in.c / group * kernel * kernel;
  std::vector<float> weights = he_normal(name, static_cast<size_t>(out_channels) * fan_in, fan_in);
  ConvGeometry g = pads;
  g.kernel = kernel;
  g.stride = stride;
  g.group = group;
  Activation y = conv2d(in, weights, out_channels, g);
  const std::string w = add_initializer(name + ".weight", {out_channels, in.c / group, kernel, kernel}, weights, true);
  auto* node = add_node("Conv", name, {x, w}, name);
  add_ints(node, "kernel_shape", {kernel, kernel});
  add_ints(node, "strides", {stride, stride});
  add_ints(node, "pads", {g.pad_top, g.pad_left, g.pad_bottom, g.pad_right});
  add_ints(node, "dilations", {1, 1});
  add_int(node, "group", group);
  store(name, std::move(y));
  return name;
}

std::string ModelBuilder::batch_norm(const std::string& name, const std::string& x) {
  const Activation& in = activation(x);
  std::vector<float> mean, var;
  channel_stats(in, &mean, &var);
  // One variance for the whole layer: channels that barely respond to the calibration
  // scenes (fine texture detectors, say) would otherwise be divided by a tiny deviation
  // and explode on real photos.
  double pooled = 0;
  for (float v : var) pooled += v;
  for (float& v : var) v = static_cast<float>(pooled / var.size());
  const std::vector<float> scale(in.c, 1.f), bias(in.c, 0.f);
  Activation y = zoo::batch_norm(in, scale, bias, mean, var, kBatchNormEpsilon);
  const int64_t c = in.c;
  const auto s = add_initializer(name + ".weight", {c}, scale, true);
  const auto b = add_initializer(name + ".bias", {c}, bias, true);
  const auto m = add_initializer(name + ".running_mean", {c}, mean, false);
  const auto v = add_initializer(name + ".running_var", {c}, var, false);
  auto* node = add_node("BatchNormalization", name, {x, s, b, m, v}, name);
  add_float(node, "epsilon", kBatchNormEpsilon);
  add_float(node, "momentum", 0.9f);
  store(name, std::move(y));
  return name;
}

std::string ModelBuilder::relu(const std::string& name, const std::string& x) {
  Activation y = clip(activation(x), 0.f, std::numeric_limits<float>::infinity());
  add_node("Relu", name, {x}, name);
  store(name, std::move(y));
  return name;
}

std::string ModelBuilder::relu6(const std::string& name, const std::string& x) {
  if (!have_relu6_bounds_) {
    // One pair of scalar bounds shared by every Clip; constants, not parameters.
    add_initializer("relu6.min", {}, {0.f}, false);
    add_initializer("relu6.max", {}, {6.f}, false);
    have_relu6_bounds_ = true;
  }
  Activation y = clip(activation(x), 0.f, 6.f);
  add_node("Clip", name, {x, "relu6.min", "relu6.max"}, name);
  store(name, std::move(y));
  return name;
}

std::string ModelBuilder::add(const std::string& name, const std::string& a, const std::string& b) {
  Activation y = zoo::add(activation(a), activation(b));
  add_node("Add", name, {a, b}, name);
  store(name, std::move(y));
  return name;
}

std::string ModelBuilder::max_pool(const std::string& name, const std::string& x, int kernel, int stride,
                                   const ConvGeometry& pads) {
  ConvGeometry g = pads;
  g.kernel = kernel;
  g.stride = stride;
  Activation y = zoo::max_pool(activation(x), g);
  auto* node = add_node("MaxPool", name, {x}, name);
  add_ints(node, "kernel_shape", {kernel, kernel});
  add_ints(node, "strides", {stride, stride});
  add_ints(node, "pads", {g.pad_top, g.pad_left, g.pad_bottom, g.pad_right});
  store(name, std::move(y));
  return name;
}

std::string ModelBuilder::global_average_pool(const std::string& name, const std::string& x) {
  Activation y = zoo::global_average_pool(activation(x));
  add_node("GlobalAveragePool", name, {x}, name);
  store(name, std::move(y));
  return name;
}

std::string ModelBuilder::flatten(const std::string& name, const std::string& x) {
  Activation y = activation(x);
  y.c = y.c * y.h * y.w;
  y.h = y.w = 1;
  auto* node = add_node("Flatten", name, {x}, name);
  add_int(node, "axis", 1);
  store(name, std::move(y));
  return name;
}

std::string ModelBuilder::classifier(const std::string& name, const std::string& x, int classes, float logit_std,
                                     const std::string& output_name) {
  const Activation& in = activation(x);
  const int features = in.c * in.h * in.w;
  std::vector<float> weights = he_normal(name, static_cast<size_t>(classes) * features, features);
  // Centre: subtract the logits of the calibration batch's mean feature vector.
  Activation mean_features{1, features, 1, 1, std::vector<float>(features, 0.f)};
  for (int n = 0; n < in.n; ++n)
    for (int f = 0; f < features; ++f) mean_features.data[f] += in.data[static_cast<size_t>(n) * features + f] / in.n;
  std::vector<float> bias(classes, 0.f);
  Activation offset = dense(mean_features, weights, bias, classes);
  for (int k = 0; k < classes; ++k) bias[k] = -offset.data[k];
  Activation centred = dense(in, weights, bias, classes);
  double sum_sq = 0;
  for (float v : centred.data) sum_sq += static_cast<double>(v) * v;
  const double rms = std::sqrt(sum_sq / centred.data.size());
  const float gain = rms > 0 ? static_cast<float>(logit_std / rms) : 1.f;
  for (float& w : weights) w *= gain;
  for (float& b : bias) b *= gain;
  Activation y = dense(in, weights, bias, classes);
  const auto w = add_initializer(name + ".weight", {classes, features}, weights, true);
  const auto b = add_initializer(name + ".bias", {classes}, bias, true);
  auto* node = add_node("Gemm", name, {x, w, b}, output_name);
  add_float(node, "alpha", 1.f);
  add_float(node, "beta", 1.f);
  add_int(node, "transB", 1);
  store(output_name, std::move(y));
  return output_name;
}

::onnx::ModelProto ModelBuilder::finish(const std::string& output, const std::string& doc,
                                        const std::vector<std::pair<std::string, std::string>>& metadata) {
  const Activation& out = activation(output);
  auto* graph = model_.mutable_graph();
  auto* value = graph->add_output();
  value->set_name(output);
  auto* tensor_type = value->mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(::onnx::TensorProto::FLOAT);
  tensor_type->mutable_shape()->add_dim()->set_dim_param("N");
  tensor_type->mutable_shape()->add_dim()->set_dim_value(out.c);
  model_.set_doc_string(doc);
  for (const auto& [key, text] : metadata) {
    auto* prop = model_.add_metadata_props();
    prop->set_key(key);
    prop->set_value(text);
  }
  activations_.clear();
  return std::move(model_);
}

namespace {

// Value noise: a random grid of `cell`-pixel cells, bilinearly interpolated.
void add_value_noise(std::mt19937& rng, int size, int cell, float amplitude, std::vector<float>* rgb) {
  std::uniform_real_distribution<float> unit(-1.f, 1.f);
  const int grid = size / cell + 2;
  std::vector<float> knots(static_cast<size_t>(grid) * grid * 3);
  for (float& k : knots) k = unit(rng);
  for (int y = 0; y < size; ++y) {
    const float gy = static_cast<float>(y) / cell;
    const int y0 = static_cast<int>(gy);
    const float fy = gy - y0;
    for (int x = 0; x < size; ++x) {
      const float gx = static_cast<float>(x) / cell;
      const int x0 = static_cast<int>(gx);
      const float fx = gx - x0;
      for (int c = 0; c < 3; ++c) {
        auto k = [&](int yy, int xx) { return knots[(static_cast<size_t>(yy) * grid + xx) * 3 + c]; };
        const float v = (k(y0, x0) * (1 - fx) + k(y0, x0 + 1) * fx) * (1 - fy) +
                        (k(y0 + 1, x0) * (1 - fx) + k(y0 + 1, x0 + 1) * fx) * fy;
        (*rgb)[(static_cast<size_t>(y) * size + x) * 3 + c] += amplitude * v;
      }
    }
  }
}

}  // namespace

Activation synthetic_calibration_batch(int batch, int size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  const float mean[3] = {0.485f, 0.456f, 0.406f}, std_dev[3] = {0.229f, 0.224f, 0.225f};
  Activation a{batch, 3, size, size, std::vector<float>(static_cast<size_t>(batch) * 3 * size * size)};
  for (int n = 0; n < batch; ++n) {
    // Natural images have a roughly 1/f amplitude spectrum: octaves of noise whose
    // amplitude halves with the cell size, from whole-image shading to pixel texture.
    std::vector<float> rgb(static_cast<size_t>(size) * size * 3, 0.45f);
    for (int cell = size / 2; cell >= 1; cell /= 2) add_value_noise(rng, size, cell, 0.5f * cell / 112.f + 0.01f, &rgb);
    // Objects: ellipses of a flat colour over the texture, some hard-edged, some soft.
    const int objects = 4 + static_cast<int>(unit(rng) * 8);
    for (int o = 0; o < objects; ++o) {
      const float cx = unit(rng) * size, cy = unit(rng) * size;
      const float rx = (0.05f + 0.3f * unit(rng)) * size, ry = (0.05f + 0.3f * unit(rng)) * size;
      const float softness = unit(rng) < 0.5f ? 0.02f : 0.3f;
      float color[3];
      for (float& v : color) v = unit(rng);
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          const float d = std::sqrt(((x - cx) / rx) * ((x - cx) / rx) + ((y - cy) / ry) * ((y - cy) / ry));
          const float alpha = 0.7f * std::clamp((1.f - d) / softness, 0.f, 1.f);
          if (alpha <= 0) continue;
          for (int c = 0; c < 3; ++c) {
            float& p = rgb[(static_cast<size_t>(y) * size + x) * 3 + c];
            p = p * (1 - alpha) + color[c] * alpha;
          }
        }
    }
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x)
        for (int c = 0; c < 3; ++c) {
          const float v = std::clamp(rgb[(static_cast<size_t>(y) * size + x) * 3 + c], 0.f, 1.f);
          a.data[((static_cast<size_t>(n) * 3 + c) * size + y) * size + x] = (v - mean[c]) / std_dev[c];
        }
  }
  return a;
}

}  // namespace kiln::zoo
