// Converter tests on tiny hand-built models: opset-dependent forms, auto_pad, and the
// numerical result on the CPU backend against naive loops.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "backends/cpu/cpu_backend.h"
#include "frontends/onnx/onnx_importer.h"
#include "onnx_model_builder.h"

namespace kiln {
namespace {

using namespace kiln::testing;

ir::Graph import(const OnnxModelBuilder& b) {
  const std::string bytes = b.bytes();
  return onnx::import_onnx_bytes(bytes.data(), bytes.size(), "test.onnx");
}

Tensor random_tensor(Dims dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  Tensor t(DType::kF32, std::move(dims));
  for (auto& v : t.span<float>()) v = dist(rng);
  return t;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  const Tensor t = random_tensor({static_cast<int64_t>(n)}, seed);
  return std::vector<float>(t.span<float>().begin(), t.span<float>().end());
}

const ir::Node* find_op(const ir::Graph& g, const std::string& op) {
  for (const auto& n : g.nodes) if (n.op == op) return &n;
  return nullptr;
}

void expect_close(const Tensor& got, const std::vector<float>& want, float tol = 1e-4f) {
  ASSERT_EQ(static_cast<size_t>(got.numel()), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got.data<float>()[i], want[i], tol + 1e-4f * std::abs(want[i])) << "at " << i;
}

// Single-channel 2-D convolution with explicit pads, the oracle for the auto_pad tests.
std::vector<float> naive_conv(const Tensor& x, const std::vector<float>& w, int64_t k, int64_t stride, int64_t pt,
                              int64_t pl, int64_t oh, int64_t ow) {
  const int64_t h = x.dim(2), wd = x.dim(3);
  std::vector<float> out;
  for (int64_t i = 0; i < oh; ++i)
    for (int64_t j = 0; j < ow; ++j) {
      float acc = 0;
      for (int64_t a = 0; a < k; ++a)
        for (int64_t b = 0; b < k; ++b) {
          const int64_t y = i * stride - pt + a, xx = j * stride - pl + b;
          if (y >= 0 && y < h && xx >= 0 && xx < wd) acc += x.data<float>()[y * wd + xx] * w[a * k + b];
        }
      out.push_back(acc);
    }
  return out;
}

struct AutoPadCase {
  const char* mode;
  int64_t size, kernel, stride;
  std::vector<int64_t> pads;  // expected [top, left, bottom, right]
  int64_t out;
};

class ConvAutoPad : public ::testing::TestWithParam<AutoPadCase> {};

TEST_P(ConvAutoPad, ResolvesToExplicitPadsAndMatchesNaiveConv) {
  const AutoPadCase c = GetParam();
  const auto w = random_floats(static_cast<size_t>(c.kernel * c.kernel), 7);
  OnnxModelBuilder b(13);
  b.input("x", {1, 1, c.size, c.size}).floats("w", {1, 1, c.kernel, c.kernel}, w).output("y");
  auto& conv = b.node("Conv", {"x", "w"}, {"y"}, "conv");
  set_string(conv, "auto_pad", c.mode);
  set_ints(conv, "strides", {c.stride, c.stride});
  set_ints(conv, "kernel_shape", {c.kernel, c.kernel});
  const ir::Graph g = import(b);
  const ir::Node* n = find_op(g, "Conv");
  ASSERT_NE(n, nullptr);
  EXPECT_FALSE(n->attrs.has("auto_pad"));
  EXPECT_EQ(n->attrs.get_ints("pads"), c.pads);
  EXPECT_EQ(g.value(g.outputs[0]).dims, (Dims{1, 1, c.out, c.out}));
  const Tensor x = random_tensor({1, 1, c.size, c.size}, 3);
  const auto y = cpu::run_graph(g, {x});
  expect_close(y[0], naive_conv(x, w, c.kernel, c.stride, c.pads[0], c.pads[1], c.out, c.out));
}

INSTANTIATE_TEST_SUITE_P(Modes, ConvAutoPad,
                         ::testing::Values(AutoPadCase{"SAME_UPPER", 5, 3, 2, {1, 1, 1, 1}, 3},
                                           AutoPadCase{"SAME_UPPER", 4, 2, 1, {0, 0, 1, 1}, 4},
                                           AutoPadCase{"SAME_LOWER", 4, 2, 1, {1, 1, 0, 0}, 4},
                                           AutoPadCase{"SAME_UPPER", 6, 3, 2, {0, 0, 1, 1}, 3},
                                           AutoPadCase{"VALID", 5, 3, 2, {0, 0, 0, 0}, 2}));

TEST(OnnxConverters, SoftmaxOpset11FlattensWhileOpset13UsesOneAxis) {
  const Tensor x = random_tensor({2, 3, 4}, 11);
  std::vector<float> v11(24), v13(24);
  const float* p = x.data<float>();
  for (int n = 0; n < 2; ++n) {  // opset 11, axis 1: over the 12 values of each batch item
    double sum = 0;
    for (int i = 0; i < 12; ++i) sum += std::exp(p[n * 12 + i]);
    for (int i = 0; i < 12; ++i) v11[n * 12 + i] = static_cast<float>(std::exp(p[n * 12 + i]) / sum);
  }
  for (int n = 0; n < 2; ++n)  // opset 13, axis 1: over the 3 channels at each position
    for (int k = 0; k < 4; ++k) {
      double sum = 0;
      for (int c = 0; c < 3; ++c) sum += std::exp(p[n * 12 + c * 4 + k]);
      for (int c = 0; c < 3; ++c) v13[n * 12 + c * 4 + k] = static_cast<float>(std::exp(p[n * 12 + c * 4 + k]) / sum);
    }
  for (int opset : {11, 13}) {
    OnnxModelBuilder b(opset);
    b.input("x", {2, 3, 4}).output("y");
    set_int(b.node("Softmax", {"x"}, {"y"}), "axis", 1);
    const ir::Graph g = import(b);
    EXPECT_EQ(g.value(g.outputs[0]).dims, (Dims{2, 3, 4}));
    expect_close(cpu::run_graph(g, {x})[0], opset == 11 ? v11 : v13);
  }
}

TEST(OnnxConverters, SoftmaxOpset11WithDynamicBatchReshapesBackWithConstantTarget) {
  OnnxModelBuilder b(11);
  b.input("x", {-1, 3, 4}).output("y");
  set_int(b.node("Softmax", {"x"}, {"y"}), "axis", 1);
  const ir::Graph g = import(b);
  const ir::Node* reshape = find_op(g, "Reshape");
  ASSERT_NE(reshape, nullptr) << ir::dump(g);
  EXPECT_EQ(find_op(g, "Shape"), nullptr) << ir::dump(g);
  ASSERT_TRUE(g.value(reshape->inputs[1]).constant.has_value());
  EXPECT_EQ(g.value(reshape->inputs[1]).constant->to_int64s(), (std::vector<int64_t>{0, 3, 4}));
  EXPECT_EQ(g.value(g.outputs[0]).dims, (Dims{kDynamic, 3, 4}));
  const Tensor x = random_tensor({3, 3, 4}, 12);
  const auto y = cpu::run_graph(g, {x});
  ASSERT_EQ(y[0].dims(), (Dims{3, 3, 4}));
  for (int n = 0; n < 3; ++n) {
    double sum = 0;
    for (int i = 0; i < 12; ++i) sum += std::exp(x.data<float>()[n * 12 + i]);
    for (int i = 0; i < 12; ++i)
      EXPECT_NEAR(y[0].data<float>()[n * 12 + i], std::exp(x.data<float>()[n * 12 + i]) / sum, 1e-5);
  }
}

TEST(OnnxConverters, SoftmaxOpset11OnLastAxisStaysOneNode) {
  OnnxModelBuilder b(11);
  b.input("x", {2, 5}).output("y");
  set_int(b.node("LogSoftmax", {"x"}, {"y"}), "axis", 1);
  const ir::Graph g = import(b);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].attrs.get_int("axis", 0), -1);
}

TEST(OnnxConverters, ClipAttributesBecomeInputsBeforeOpset11) {
  const Tensor x = random_tensor({3, 4}, 5);
  std::vector<float> want;
  for (float v : x.span<float>()) want.push_back(std::min(0.5f, std::max(-0.25f, v)));
  {
    OnnxModelBuilder b(7);
    b.input("x", {3, 4}).output("y");
    auto& clip = b.node("Clip", {"x"}, {"y"});
    set_float(clip, "min", -0.25f);
    set_float(clip, "max", 0.5f);
    const ir::Graph g = import(b);
    const ir::Node* n = find_op(g, "Clip");
    ASSERT_NE(n, nullptr);
    ASSERT_EQ(n->inputs.size(), 3u);
    EXPECT_FALSE(n->attrs.has("min"));
    EXPECT_FLOAT_EQ(g.value(n->inputs[1]).constant->data<float>()[0], -0.25f);
    expect_close(cpu::run_graph(g, {x})[0], want);
  }
  {
    OnnxModelBuilder b(11);
    b.input("x", {3, 4}).output("y").floats("lo", {}, {-0.25f}).floats("hi", {}, {0.5f});
    b.node("Clip", {"x", "lo", "hi"}, {"y"});
    expect_close(cpu::run_graph(import(b), {x})[0], want);
  }
  {  // opset 11 with only max: min stays omitted
    OnnxModelBuilder b(11);
    b.input("x", {3, 4}).output("y").floats("hi", {}, {0.5f});
    b.node("Clip", {"x", "", "hi"}, {"y"});
    const ir::Graph g = import(b);
    const ir::Node* n = find_op(g, "Clip");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->inputs[1], ir::kNoValue);
  }
}

TEST(OnnxConverters, SqueezeAxesAttributeBeforeOpset13InputAfter) {
  const Tensor x = random_tensor({1, 3, 1, 2}, 9);
  for (int opset : {11, 13}) {
    OnnxModelBuilder b(opset);
    b.input("x", {1, 3, 1, 2}).output("y");
    if (opset == 11) {
      set_ints(b.node("Squeeze", {"x"}, {"y"}), "axes", {0, 2});
    } else {
      b.ints("axes", {0, 2});
      b.node("Squeeze", {"x", "axes"}, {"y"});
    }
    const ir::Graph g = import(b);
    const ir::Node* n = find_op(g, "Squeeze");
    ASSERT_NE(n, nullptr) << "opset " << opset;
    ASSERT_EQ(n->inputs.size(), 2u);
    EXPECT_EQ(g.value(n->inputs[1]).constant->to_int64s(), (std::vector<int64_t>{0, 2}));
    EXPECT_EQ(g.value(g.outputs[0]).dims, (Dims{3, 2}));
    const auto y = cpu::run_graph(g, {x});
    EXPECT_EQ(y[0].dims(), (Dims{3, 2}));
    expect_close(y[0], std::vector<float>(x.span<float>().begin(), x.span<float>().end()));
  }
}

TEST(OnnxConverters, UnsqueezeSplitSlicePadOldOpsetsBecomeInputs) {
  OnnxModelBuilder b(9);
  b.input("x", {4, 6}).output("u").output("s0").output("s1").output("sl").output("p");
  set_ints(b.node("Unsqueeze", {"x"}, {"u"}), "axes", {0});
  auto& split = b.node("Split", {"x"}, {"s0", "s1"});
  set_int(split, "axis", 1);
  set_ints(split, "split", {2, 4});
  auto& slice = b.node("Slice", {"x"}, {"sl"});
  set_ints(slice, "starts", {1});
  set_ints(slice, "ends", {3});
  set_ints(slice, "axes", {0});
  set_ints(b.node("Pad", {"x"}, {"p"}), "pads", {1, 0, 0, 2});
  const ir::Graph g = import(b);
  EXPECT_EQ(g.value(g.outputs[0]).dims, (Dims{1, 4, 6}));
  EXPECT_EQ(g.value(g.outputs[1]).dims, (Dims{4, 2}));
  EXPECT_EQ(g.value(g.outputs[2]).dims, (Dims{4, 4}));
  EXPECT_EQ(g.value(g.outputs[3]).dims, (Dims{2, 6}));
  EXPECT_EQ(g.value(g.outputs[4]).dims, (Dims{5, 8}));
  for (const auto& n : g.nodes) {
    EXPECT_FALSE(n.attrs.has("axes") || n.attrs.has("split") || n.attrs.has("starts") || n.attrs.has("pads"))
        << n.op << " kept an attribute that opset 13 made an input";
  }
  const Tensor x = random_tensor({4, 6}, 13);
  const auto y = cpu::run_graph(g, {x});
  EXPECT_FLOAT_EQ(y[3].data<float>()[0], x.data<float>()[6]);      // row 1 of x
  EXPECT_FLOAT_EQ(y[4].data<float>()[0], 0.0f);                   // padded row
  EXPECT_FLOAT_EQ(y[4].data<float>()[8], x.data<float>()[0]);     // x[0][0] moved down a row
}

TEST(OnnxConverters, DropoutBecomesIdentityAndConstantBecomesValue) {
  OnnxModelBuilder b(13);
  b.input("x", {2, 3}).output("y");
  b.node("Dropout", {"x"}, {"d"});
  auto& c = b.node("Constant", {}, {"k"});
  auto* attr = c.add_attribute();
  attr->set_name("value");
  attr->set_type(::onnx::AttributeProto::TENSOR);
  attr->mutable_t()->set_data_type(::onnx::TensorProto::FLOAT);
  attr->mutable_t()->add_dims(3);
  for (float v : {1.0f, 2.0f, 3.0f}) attr->mutable_t()->add_float_data(v);
  b.node("Add", {"d", "k"}, {"y"});
  const ir::Graph g = import(b);
  EXPECT_EQ(find_op(g, "Dropout"), nullptr);
  EXPECT_EQ(find_op(g, "Constant"), nullptr);
  const Tensor x = random_tensor({2, 3}, 17);
  const auto y = cpu::run_graph(g, {x});
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[0].data<float>()[i], x.data<float>()[i] + float(i % 3 + 1));
}

TEST(OnnxConverters, GemmAndBatchNormImport) {
  const auto w = random_floats(12, 21);
  OnnxModelBuilder b(13);
  b.input("x", {-1, 4}).floats("w", {3, 4}, w).floats("c", {3}, {0.5f, -1.0f, 2.0f}).output("y");
  auto& gemm = b.node("Gemm", {"x", "w", "c"}, {"y"});
  set_int(gemm, "transB", 1);
  set_float(gemm, "alpha", 2.0f);
  const ir::Graph g = import(b);
  EXPECT_EQ(g.value(g.outputs[0]).dims, (Dims{kDynamic, 3}));
  const Tensor x = random_tensor({2, 4}, 23);
  const auto y = cpu::run_graph(g, {x});
  std::vector<float> want;
  const float c[3] = {0.5f, -1.0f, 2.0f};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      float acc = 0;
      for (int k = 0; k < 4; ++k) acc += x.data<float>()[i * 4 + k] * w[j * 4 + k];
      want.push_back(2.0f * acc + c[j]);
    }
  expect_close(y[0], want);
}

}  // namespace
}  // namespace kiln
