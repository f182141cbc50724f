// The CPU backend end to end: build an engine from a small graph, run it through an
// ExecutionContext, and get a Status (never an exception or a crash) for bad inputs.
#include "backends/cpu/cpu_backend.h"
#include "cpu_test_support.h"

namespace kiln::cpu::testing {
namespace {

// x[N,3,8,8] -> FusedConv(relu) -> MaxPool -> GlobalAveragePool -> Flatten -> Gemm -> Softmax
ir::Graph small_classifier() {
  ir::Graph g;
  const int x = g.add_value("x", DType::kF32, {kDynamic, 3, 8, 8});
  g.inputs.push_back(x);
  auto add = [&](const std::string& op, std::vector<int> inputs, ir::Attributes a = {}) {
    ir::Node n;
    n.name = op + std::to_string(g.nodes.size());
    n.op = op;
    n.inputs = std::move(inputs);
    n.attrs = std::move(a);
    n.outputs = {g.add_value(n.name + "_out")};
    g.add_node(n);
    return n.outputs[0];
  };
  const int w = g.add_constant("w", random_tensor({5, 3, 3, 3}, 801));
  const int b = g.add_constant("b", random_tensor({5}, 802));
  int y = add("FusedConv", {x, w, b}, attrs({{"pads", Ints{1, 1, 1, 1}}, {"activation", std::string("relu")}}));
  y = add("MaxPool", {y}, attrs({{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}));
  y = add("GlobalAveragePool", {y});
  y = add("Flatten", {y});
  const int fw = g.add_constant("fw", random_tensor({4, 5}, 803));
  y = add("Gemm", {y, fw}, attrs({{"transB", int64_t{1}}}));
  y = add("Softmax", {y});
  g.outputs.push_back(y);
  return g;
}

TEST(CpuBackend, RunsAnyBatchAndMatchesNodeByNode) {
  const ir::Graph g = small_classifier();
  auto backend = make_cpu_backend();
  EXPECT_TRUE(backend->unsupported_ops(g).empty());
  auto engine = backend->build(g, BuildOptions{});
  auto ctx = engine->create_context();
  for (int64_t batch : {1, 3}) {
    const Tensor x = random_tensor({batch, 3, 8, 8}, 810 + static_cast<uint32_t>(batch));
    std::vector<Tensor> out;
    const Status st = ctx->run({x}, &out);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].dims(), (Dims{batch, 4}));
    // Each row is a probability distribution.
    const std::vector<double> p = out[0].to_doubles();
    for (int64_t r = 0; r < batch; ++r) {
      double total = 0;
      for (int c = 0; c < 4; ++c) total += p[r * 4 + c];
      EXPECT_NEAR(total, 1.0, 1e-5);
    }
    // Same result when the nodes are run one at a time by hand.
    Tensor v = x;
    for (const ir::Node& n : g.nodes) {
      std::vector<const Tensor*> args;
      for (int i : n.inputs) args.push_back(g.value(i).constant ? &*g.value(i).constant : &v);
      v = run1(n, args);
    }
    expect_close(out[0], v);
  }
}

TEST(CpuBackend, BadInputsGiveStatusNotCrash) {
  auto engine = make_cpu_backend()->build(small_classifier(), BuildOptions{});
  auto ctx = engine->create_context();
  std::vector<Tensor> out;
  const Tensor wrong_channels = random_tensor({1, 4, 8, 8}, 820);
  Status st = ctx->run({wrong_channels}, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("x"), std::string::npos) << st.message();
  const Tensor ints = Tensor(DType::kI32, {1, 3, 8, 8});
  st = ctx->run({ints}, &out);
  EXPECT_FALSE(st.ok());
  st = ctx->run({}, &out);
  EXPECT_FALSE(st.ok());
}

TEST(CpuBackend, RejectsUnknownOpsAndPrecisions) {
  ir::Graph g = small_classifier();
  g.nodes[1].op = "MaxUnpool";
  auto backend = make_cpu_backend();
  EXPECT_EQ(backend->unsupported_ops(g).size(), 1u);
  EXPECT_THROW(backend->build(g, BuildOptions{}), Error);
  BuildOptions int8;
  int8.precision = Precision::kINT8;
  EXPECT_THROW(backend->build(small_classifier(), int8), Error);
}

}  // namespace
}  // namespace kiln::cpu::testing
