// The lowering of `--precision best` (host code only, no GPU needed): only the convolutions
// named in the allow-set run in INT8, values stay INT8 only between two of them, and
// everything else is FP16 with conversions at the boundaries.
#ifdef KILN_HAVE_CUDA

#include <map>

#include <gtest/gtest.h>

#include "backends/cuda/int8/int8_lowering.h"
#include "backends/cuda/lower_for_device.h"
#include "chain_graphs.h"
#include "passes/pipeline.h"

namespace kiln::cuda_test {
namespace {

struct Chain {
  ir::Graph graph;
  quant::CalibrationTable table;
  std::vector<std::string> convs;  // names in order
};

// Three 16-channel convolutions with relu, optimized for best, every activation calibrated.
Chain three_convs() {
  Chain c;
  c.graph = chain_graph({"three", 16, 8, {{16, 3, 1, 1}, {16, 1, 1, 0}, {16, 3, 1, 1}}});
  passes::optimize_for_inference(c.graph, Precision::kBest);
  for (const ir::Value& v : c.graph.values)
    if (!v.is_constant()) c.table.thresholds[v.name] = 4.0f;
  for (const ir::Node& n : c.graph.nodes)
    if (n.op == "FusedConv" || n.op == "Conv") c.convs.push_back(n.name);
  return c;
}

std::map<std::string, int> op_counts(const cuda::LoweredGraph& low) {
  std::map<std::string, int> ops;
  for (const ir::Node& n : low.graph.nodes) ++ops[n.op];
  return ops;
}

const ir::Node& node_named(const ir::Graph& g, const std::string& name) {
  for (const ir::Node& n : g.nodes)
    if (n.name == name) return n;
  throw Error("no node " + name);
}

TEST(BestLowering, AllowSetLimitsInt8Convolutions) {
  const Chain c = three_convs();
  ASSERT_EQ(c.convs.size(), 3u);
  const std::set<std::string> first_and_last = {c.convs[0], c.convs[2]};
  const cuda::int8::Int8Plan plan = cuda::int8::plan_int8_convs(c.graph, c.table, 16, &first_and_last);
  const cuda::int8::Int8Plan all = cuda::int8::plan_int8_convs(c.graph, c.table, 16);
  std::vector<bool> runs, runs_all;
  for (size_t i = 0; i < c.graph.nodes.size(); ++i) {
    const ir::Node& n = c.graph.nodes[i];
    if (n.op != "FusedConv" && n.op != "Conv") continue;
    runs.push_back(plan.conv_runs_int8[i]);
    runs_all.push_back(all.conv_runs_int8[i]);
    // The first convolution's consumer stays FP16, so its output cannot stay INT8.
    EXPECT_FALSE(plan.value_is_int8[static_cast<size_t>(n.outputs[0])]) << n.name;
  }
  EXPECT_EQ(runs, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(runs_all, (std::vector<bool>{true, true, true}));
  const std::set<std::string> none;
  for (bool b : cuda::int8::plan_int8_convs(c.graph, c.table, 16, &none).conv_runs_int8) EXPECT_FALSE(b);
  // The allow-set cannot put an ineligible convolution in INT8: above the channel minimum.
  const std::set<std::string> every(c.convs.begin(), c.convs.end());
  for (bool b : cuda::int8::plan_int8_convs(c.graph, c.table, 17, &every).conv_runs_int8) EXPECT_FALSE(b);
}

TEST(BestLowering, MixedGraphConvertsAtPrecisionBoundaries) {
  const Chain c = three_convs();
  ASSERT_EQ(c.convs.size(), 3u);
  {  // INT8, FP16, INT8: two quantizations, the first convolution writes FP16
    const std::set<std::string> allow = {c.convs[0], c.convs[2]};
    const cuda::LoweredGraph low = cuda::lower_for_device(c.graph, Precision::kBest, 2, &c.table, &allow);
    auto ops = op_counts(low);
    EXPECT_EQ(ops["Int8Conv"], 2);
    EXPECT_EQ(ops["FusedConv"], 1);
    EXPECT_EQ(ops["QuantizeInt8"], 2);
    EXPECT_EQ(node_named(low.graph, c.convs[1]).op, "FusedConv");  // lowered nodes keep their names
    EXPECT_EQ(low.graph.value(node_named(low.graph, c.convs[0]).outputs[0]).dtype, DType::kF16);
  }
  {  // INT8, INT8, FP16: the value between the first two stays INT8
    const std::set<std::string> allow = {c.convs[0], c.convs[1]};
    const cuda::LoweredGraph low = cuda::lower_for_device(c.graph, Precision::kBest, 2, &c.table, &allow);
    auto ops = op_counts(low);
    EXPECT_EQ(ops["Int8Conv"], 2);
    EXPECT_EQ(ops["QuantizeInt8"], 1);
    EXPECT_EQ(low.graph.value(node_named(low.graph, c.convs[0]).outputs[0]).dtype, DType::kI8);
    EXPECT_EQ(low.graph.value(node_named(low.graph, c.convs[1]).outputs[0]).dtype, DType::kF16);
  }
  {  // nothing allowed: the FP16 graph
    const std::set<std::string> allow;
    auto ops = op_counts(cuda::lower_for_device(c.graph, Precision::kBest, 2, &c.table, &allow));
    EXPECT_EQ(ops["Int8Conv"], 0);
    EXPECT_EQ(ops["QuantizeInt8"], 0);
    EXPECT_EQ(ops["FusedConv"], 3);
  }
  // No allow-set: every eligible convolution, as int8.
  EXPECT_EQ(op_counts(cuda::lower_for_device(c.graph, Precision::kBest, 2, &c.table))["Int8Conv"], 3);
}

TEST(BestLowering, NeedsACalibrationTable) {
  const Chain c = three_convs();
  EXPECT_EQ(cuda::activation_dtype(Precision::kBest), DType::kF16);
  try {
    cuda::lower_for_device(c.graph, Precision::kBest, 2);
    FAIL() << "lowered without a table";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("calibration table"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::cuda_test

#endif  // KILN_HAVE_CUDA
