// Shape functions, checked against hand-computed output shapes and for clear errors.
#include <gtest/gtest.h>

#include "ir/shape_functions.h"
#include "ir/shape_inference.h"

namespace kiln::ir {
namespace {

// A one-node graph: inputs given by dims (or constants), outputs inferred.
struct OneNode {
  Graph g;
  Node node;
  explicit OneNode(const std::string& op, const std::string& domain = "") {
    node.name = "n";
    node.op = op;
    node.domain = domain;
  }
  OneNode& in(Dims dims, DType dtype = DType::kF32) {
    const int v = g.add_value("in" + std::to_string(node.inputs.size()), dtype, std::move(dims));
    g.inputs.push_back(v);
    node.inputs.push_back(v);
    return *this;
  }
  OneNode& absent() {
    node.inputs.push_back(kNoValue);
    return *this;
  }
  OneNode& ints(std::vector<int64_t> v) {
    node.inputs.push_back(g.add_constant("c" + std::to_string(node.inputs.size()),
                                         Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v)));
    return *this;
  }
  OneNode& attr(const std::string& k, AttributeValue v) {
    node.attrs.set(k, std::move(v));
    return *this;
  }
  std::vector<Dims> run(size_t outputs = 1) {
    for (size_t i = 0; i < outputs; ++i) node.outputs.push_back(g.add_value("out" + std::to_string(i)));
    g.add_node(node);
    for (int o : node.outputs) g.outputs.push_back(o);
    infer_shapes(g);
    std::vector<Dims> result;
    for (int o : node.outputs) result.push_back(g.value(o).dims);
    return result;
  }
  Dims run1() { return run()[0]; }
  DType dtype(size_t i = 0) const { return g.value(g.nodes.at(0).outputs.at(i)).dtype; }
  std::string error(size_t outputs = 1) {
    try {
      run(outputs);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

using I = std::vector<int64_t>;
const int64_t N = kDynamic;

TEST(ShapeConv, StridesPadsDilationsAndGroups) {
  EXPECT_EQ(OneNode("Conv").in({1, 3, 224, 224}).in({64, 3, 7, 7}).attr("strides", I{2, 2})
                .attr("pads", I{3, 3, 3, 3}).run1(), (Dims{1, 64, 112, 112}));
  EXPECT_EQ(OneNode("Conv").in({N, 32, 10, 10}).in({32, 1, 3, 3}).attr("group", int64_t{32})
                .attr("dilations", I{2, 2}).run1(), (Dims{N, 32, 6, 6}));
  EXPECT_EQ(OneNode("Conv").in({2, 4, 9}).in({8, 4, 3}).run1(), (Dims{2, 8, 7}));  // 1-D
  EXPECT_EQ(OneNode("Conv").in({1, 3, 5, 5}).in({2, 3, 3, 3}).attr("auto_pad", std::string("SAME_UPPER"))
                .attr("strides", I{2, 2}).run1(), (Dims{1, 2, 3, 3}));
  EXPECT_EQ(OneNode("Conv").in({1, 3, N, 8}).in({2, 3, 3, 3}).run1(), (Dims{1, 2, N, 6}));
}

TEST(ShapeConv, ErrorsNameTheMismatch) {
  const std::string channels = OneNode("Conv").in({1, 4, 8, 8}).in({8, 3, 3, 3}).error();
  EXPECT_NE(channels.find("node \"n\" (Conv)"), std::string::npos) << channels;
  EXPECT_NE(channels.find("input channels"), std::string::npos) << channels;
  EXPECT_NE(OneNode("Conv").in({1, 4, 8, 8}).in({6, 1, 3, 3}).attr("group", int64_t{4}).error().find("groups"),
            std::string::npos);
  EXPECT_NE(OneNode("Conv").in({1, 3, 2, 2}).in({8, 3, 5, 5}).error().find("does not fit"), std::string::npos);
  EXPECT_NE(OneNode("Conv").in({1, 3, 8, 8}).in({8, 3, 3, 3}).in({7}).error().find("bias"), std::string::npos);
  EXPECT_NE(OneNode("Conv").in({1, 3, 8, 8}).in({8, 3, 3, 3}).attr("kernel_shape", I{5, 5}).error()
                .find("does not match weight"), std::string::npos);
}

TEST(ShapeConv, FusedConvChecksResidual) {
  EXPECT_EQ(OneNode("FusedConv", "kiln").in({1, 8, 4, 4}).in({8, 8, 1, 1}).absent().in({1, 8, 4, 4}).run1(),
            (Dims{1, 8, 4, 4}));
  EXPECT_NE(OneNode("FusedConv", "kiln").in({1, 8, 4, 4}).in({8, 8, 1, 1}).absent().in({1, 8, 2, 2}).error()
                .find("residual"), std::string::npos);
}

TEST(ShapePool, CeilModeAndGlobal) {
  EXPECT_EQ(OneNode("MaxPool").in({1, 64, 112, 112}).attr("kernel_shape", I{3, 3}).attr("strides", I{2, 2})
                .attr("pads", I{1, 1, 1, 1}).run1(), (Dims{1, 64, 56, 56}));
  EXPECT_EQ(OneNode("AveragePool").in({1, 1, 4, 4}).attr("kernel_shape", I{3, 3}).attr("strides", I{2, 2})
                .attr("ceil_mode", int64_t{1}).run1(), (Dims{1, 1, 2, 2}));
  EXPECT_EQ(OneNode("AveragePool").in({1, 1, 5, 5}).attr("kernel_shape", I{2, 2}).attr("strides", I{2, 2})
                .attr("ceil_mode", int64_t{1}).run1(), (Dims{1, 1, 3, 3}));
  EXPECT_EQ(OneNode("GlobalAveragePool").in({N, 1024, 7, 7}).run1(), (Dims{N, 1024, 1, 1}));
  EXPECT_NE(OneNode("MaxPool").in({1, 1, 4, 4}).error().find("kernel_shape"), std::string::npos);
}

TEST(ShapeNormalization, BatchNormChecksChannels) {
  EXPECT_EQ(OneNode("BatchNormalization").in({N, 3, 5, 5}).in({3}).in({3}).in({3}).in({3}).run1(), (Dims{N, 3, 5, 5}));
  EXPECT_NE(OneNode("BatchNormalization").in({1, 3, 5, 5}).in({4}).in({3}).in({3}).in({3}).error().find("scale"),
            std::string::npos);
}

TEST(ShapeElementwise, BroadcastAndDtypes) {
  EXPECT_EQ(OneNode("Add").in({N, 3, 1, 5}).in({4, 1}).run1(), (Dims{N, 3, 4, 5}));
  EXPECT_EQ(OneNode("Sum").in({2, 1}).in({3}).in({1, 1}).run1(), (Dims{2, 3}));
  EXPECT_NE(OneNode("Mul").in({2, 3}).in({4}).error().find("broadcast"), std::string::npos);
  EXPECT_NE(OneNode("Add").in({2}).in({2}, DType::kI64).error().find("dtypes differ"), std::string::npos);
  OneNode cast("Cast");
  cast.in({2, 3}).attr("to", int64_t{7});
  EXPECT_EQ(cast.run1(), (Dims{2, 3}));
  EXPECT_EQ(cast.dtype(), DType::kI64);
  EXPECT_EQ(OneNode("Softmax").in({N, 10}).run1(), (Dims{N, 10}));
  EXPECT_NE(OneNode("Softmax").in({2, 10}).attr("axis", int64_t{2}).error().find("out of range"), std::string::npos);
}

TEST(ShapeMath, GemmMatMulReduce) {
  EXPECT_EQ(OneNode("Gemm").in({N, 1024}).in({1000, 1024}).in({1000}).attr("transB", int64_t{1}).run1(),
            (Dims{N, 1000}));
  EXPECT_EQ(OneNode("FusedGemm", "kiln").in({4, 3}).in({4, 5}).attr("transA", int64_t{1}).run1(), (Dims{3, 5}));
  EXPECT_NE(OneNode("Gemm").in({2, 3}).in({4, 5}).error().find("inner"), std::string::npos);
  EXPECT_EQ(OneNode("MatMul").in({2, 1, 3, 4}).in({5, 4, 6}).run1(), (Dims{2, 5, 3, 6}));
  EXPECT_EQ(OneNode("MatMul").in({4}).in({3, 4, 6}).run1(), (Dims{3, 6}));
  EXPECT_EQ(OneNode("MatMul").in({3, 4}).in({4}).run1(), (Dims{3}));
  EXPECT_EQ(OneNode("ReduceMean").in({N, 8, 7, 7}).attr("axes", I{2, 3}).run1(), (Dims{N, 8, 1, 1}));
  EXPECT_EQ(OneNode("ReduceMean").in({N, 8, 7, 7}).attr("axes", I{-1}).attr("keepdims", int64_t{0}).run1(),
            (Dims{N, 8, 7}));
}

TEST(ShapeQuant, QuantizeDtypeFromZeroPoint) {
  OneNode q("QuantizeLinear");
  q.in({1, 8}).in({}).in({}, DType::kI8);
  EXPECT_EQ(q.run1(), (Dims{1, 8}));
  EXPECT_EQ(q.dtype(), DType::kI8);
  OneNode dq("DequantizeLinear");
  dq.in({16, 3, 3, 3}, DType::kI8).in({16}).in({16}, DType::kI8).attr("axis", int64_t{0});
  EXPECT_EQ(dq.run1(), (Dims{16, 3, 3, 3}));
  EXPECT_EQ(dq.dtype(), DType::kF32);
  EXPECT_NE(OneNode("DequantizeLinear").in({16, 3}, DType::kI8).in({8}).attr("axis", int64_t{0}).error()
                .find("per-axis"), std::string::npos);
}

TEST(ShapeTensorOps, ReshapeFlattenTranspose) {
  EXPECT_EQ(OneNode("Reshape").in({N, 2, 3, 3}).ints({0, -1}).run1(), (Dims{N, 18}));
  EXPECT_EQ(OneNode("Reshape").in({2, 3, 4}).ints({4, -1, 2}).run1(), (Dims{4, 3, 2}));
  EXPECT_EQ(OneNode("Reshape").in({N, 6}).ints({-1, 2, 3}).run1(), (Dims{N, 2, 3}));
  EXPECT_NE(OneNode("Reshape").in({2, 3}).ints({4, 2}).error().find("cannot reshape"), std::string::npos);
  EXPECT_NE(OneNode("Reshape").in({2, 3}).ints({-1, -1}).error().find("more than one -1"), std::string::npos);
  EXPECT_EQ(OneNode("Reshape").in({2, 3}).in({3}, DType::kI64).run1(), (Dims{N, N, N}));
  EXPECT_EQ(OneNode("Flatten").in({N, 3, 4, 5}).run1(), (Dims{N, 60}));
  EXPECT_EQ(OneNode("Flatten").in({2, 3, 4}).attr("axis", int64_t{0}).run1(), (Dims{1, 24}));
  EXPECT_EQ(OneNode("Flatten").in({2, 3, 4}).attr("axis", int64_t{-1}).run1(), (Dims{6, 4}));
  EXPECT_EQ(OneNode("Transpose").in({1, 2, 3}).attr("perm", I{0, 2, 1}).run1(), (Dims{1, 3, 2}));
  EXPECT_EQ(OneNode("Transpose").in({1, 2, 3}).run1(), (Dims{3, 2, 1}));
  EXPECT_NE(OneNode("Transpose").in({1, 2, 3}).attr("perm", I{0, 0, 1}).error().find("permutation"),
            std::string::npos);
}

TEST(ShapeTensorOps, ConcatSplitSlicePad) {
  EXPECT_EQ(OneNode("Concat").in({N, 2, 4}).in({N, 3, 4}).attr("axis", int64_t{1}).run1(), (Dims{N, 5, 4}));
  EXPECT_NE(OneNode("Concat").in({1, 2, 4}).in({1, 2, 5}).attr("axis", int64_t{1}).error().find("does not match"),
            std::string::npos);
  EXPECT_EQ(OneNode("Split").in({2, 116, 7}).attr("axis", int64_t{1}).run(2), (std::vector<Dims>{{2, 58, 7}, {2, 58, 7}}));
  EXPECT_EQ(OneNode("Split").in({6, 2}).ints({1, 5}).run(2), (std::vector<Dims>{{1, 2}, {5, 2}}));
  EXPECT_EQ(OneNode("Slice").in({10, 8}).ints({1, -3}).ints({1000, -1}).ints({0, 1}).ints({3, 1}).run1(),
            (Dims{3, 2}));
  EXPECT_EQ(OneNode("Slice").in({10}).ints({-1}).ints({-1000}).ints({0}).ints({-2}).run1(), (Dims{5}));
  EXPECT_EQ(OneNode("Slice").in({N, 8}).ints({2}).ints({5}).ints({1}).run1(), (Dims{N, 3}));
  EXPECT_EQ(OneNode("Pad").in({1, 3, 4, 4}).ints({0, 0, 1, 2, 0, 0, 1, 2}).run1(), (Dims{1, 3, 6, 8}));
  EXPECT_EQ(OneNode("Pad").in({1, 3, 4, 4}).ints({0, 0, -1, 0, 0, 0, -1, 0}).run1(), (Dims{1, 3, 2, 4}));
  EXPECT_NE(OneNode("Pad").in({1, 3}).ints({0, 0}).error().find("pads"), std::string::npos);
}

TEST(ShapeTensorOps, SplitSizesMustAddUp) {
  EXPECT_NE(OneNode("Split").in({6, 2}).ints({1, 4}).error(2).find("add up"), std::string::npos);
}

TEST(ShapeTensorOps, SqueezeUnsqueezeShapeGather) {
  EXPECT_EQ(OneNode("Squeeze").in({1, 3, 1, 2}).ints({0, -2}).run1(), (Dims{3, 2}));
  EXPECT_EQ(OneNode("Squeeze").in({1, 3, 1, 2}).run1(), (Dims{3, 2}));
  EXPECT_NE(OneNode("Squeeze").in({2, 3}).ints({0}).error().find("not 1"), std::string::npos);
  EXPECT_EQ(OneNode("Unsqueeze").in({3, 4}).ints({0, 3}).run1(), (Dims{1, 3, 4, 1}));
  EXPECT_EQ(OneNode("Unsqueeze").in({}).ints({0}).run1(), (Dims{1}));
  OneNode shape("Shape");
  shape.in({N, 3, 8});
  EXPECT_EQ(shape.run1(), (Dims{3}));
  EXPECT_EQ(shape.dtype(), DType::kI64);
  EXPECT_EQ(OneNode("Shape").in({N, 3, 8}).attr("start", int64_t{1}).run1(), (Dims{2}));
  EXPECT_EQ(OneNode("Gather").in({5, 4, 3}).in({2, 2}, DType::kI64).attr("axis", int64_t{1}).run1(),
            (Dims{5, 2, 2, 3}));
  EXPECT_EQ(OneNode("Gather").in({4}).in({}, DType::kI64).run1(), (Dims{}));
  EXPECT_NE(OneNode("Gather").in({4}).ints({4}).error().find("out of range"), std::string::npos);
}

TEST(ShapeInference, UnknownOpIsReportedWithNodeName) {
  OneNode n("NoSuchOp");
  n.in({1});
  const std::string msg = n.error();
  EXPECT_NE(msg.find("NoSuchOp"), std::string::npos);
  EXPECT_NE(msg.find("\"n\""), std::string::npos);
}

}  // namespace
}  // namespace kiln::ir
