// `--precision best` on the GPU: a convolution chain built in phases (FP16, INT8, mixed),
// with a choice reported per convolution, results within INT8's error of FP32, FP16 layers
// of the mixed engine read from the shared timing cache, and a plan that loads as "best".
#ifdef KILN_HAVE_CUDA

#include <unistd.h>

#include <filesystem>

#include "../cuda/cuda_engine_support.h"
#include "chain_graphs.h"
#include "core/npy.h"
#include "engine/plan_format.h"
#include "passes/pipeline.h"

namespace kiln::cuda_test {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(BestBuild, ChainChoosesPerLayerAndMatchesFp32) {
  KILN_REQUIRE_GPU();
  const ChainCase c{"best_chain", 16, 14, {{32, 3, 1, 1}, {64, 1, 1, 0}, {32, 3, 2, 1}}};
  const ir::Graph g = chain_graph(c);
  const fs::path dir = fs::temp_directory_path() / fmt::format("kiln_best_gpu_{}", ::getpid());
  fs::create_directories(dir / "data");
  for (int i = 0; i < 4; ++i)
    write_npy_file((dir / "data" / fmt::format("s{}.npy", i)).string(), random_tensor({2, c.cin, c.size, c.size}, 700 + i));
  BuildOptions o;
  o.device = "cuda:0";
  o.precision = Precision::kBest;
  o.max_batch_size = 4;
  o.calib_data_dir = (dir / "data").string();
  o.calibrator = "minmax";
  o.timing_cache_path = (dir / "timing.cache").string();
  std::vector<std::string> lines;
  o.progress = [&](const std::string& line) { lines.push_back(line); };
  auto engine = cuda::make_cuda_backend(0)->build(g, o);
  EXPECT_EQ(engine->precision(), Precision::kBest);
  EXPECT_TRUE(fs::exists(o.timing_cache_path));

  std::string log;
  for (const std::string& l : lines) log += l + "\n";
  for (const char* phase : {"phase 1/4", "phase 2/4", "phase 3/4", "phase 4/4"})
    EXPECT_TRUE(contains(log, phase)) << phase << " missing from\n" << log;
  // One choice line per convolution: "[best] NAME: int8 ..." or "[best] NAME: fp16 ...".
  ir::Graph optimized = g;
  passes::optimize_for_inference(optimized, Precision::kBest);
  int convs = 0;
  for (const ir::Node& n : optimized.nodes) {
    if (n.op != "FusedConv" && n.op != "Conv") continue;
    ++convs;
    int found = 0;
    for (const std::string& l : lines)
      if (l.rfind("[best] " + n.name + ": int8", 0) == 0 || l.rfind("[best] " + n.name + ": fp16", 0) == 0) ++found;
    EXPECT_EQ(found, 1) << n.name << " in\n" << log;
  }
  EXPECT_EQ(convs, 3);
  // The mixed engine's FP16 convolutions were timed in phase 1: read from the cache.
  for (const std::string& l : lines)
    if (l.rfind("[best: mixed]", 0) == 0 && contains(l, "(FusedConv)"))
      EXPECT_TRUE(contains(l, "(timing cache)")) << l;

  for (int batch : {1, 4}) {
    const Tensor x = random_tensor({batch, c.cin, c.size, c.size}, 950 + batch);
    const auto got = run_gpu(*engine, {x}, 3);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_LE(relative_l2(got[0], cpu::run_graph(g, {x})[0]), 0.08) << "batch " << batch;
  }

  const std::string path = (dir / "best.plan").string();
  engine->save_plan(path);
  const Plan plan = load_plan(path);
  EXPECT_EQ(plan.precision, Precision::kBest);
  BuildOptions lo;
  lo.device = "cuda:0";
  auto loaded = cuda::load_cuda_plan(plan, lo);
  EXPECT_EQ(loaded->precision(), Precision::kBest);
  const Tensor x = random_tensor({3, c.cin, c.size, c.size}, 31);
  const auto a = run_gpu(*engine, {x});
  const auto b = run_gpu(*loaded, {x});
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_LE(relative_l2(b[0], a[0]), 1e-6);
  fs::remove_all(dir);
}

TEST(BestBuild, WithoutCalibrationDataIsRefused) {
  KILN_REQUIRE_GPU();
  const ir::Graph g = chain_graph({"x", 4, 6, {{4, 3, 1, 1}}});
  BuildOptions o;
  o.device = "cuda:0";
  o.precision = Precision::kBest;
  try {
    cuda::make_cuda_backend(0)->build(g, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "--calib-data")) << e.what();
  }
}

}  // namespace
}  // namespace kiln::cuda_test

#endif  // KILN_HAVE_CUDA
