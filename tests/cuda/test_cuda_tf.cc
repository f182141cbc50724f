// TensorFlow graphs on the GPU: the committed fixtures (NHWC and NCHW convnets with global
// pooling written as Mean, ArgMax and Cast outputs) per precision against the CPU backend.
#include <filesystem>

#include "core/npy.h"
#include "cuda_engine_support.h"
#include "frontends/tf/tf_importer.h"

namespace kiln::cuda_test {
namespace {

namespace fs = std::filesystem;

class CudaTf : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaTf, FixtureMatchesCpuPerPrecision) {
  KILN_REQUIRE_GPU();
  const fs::path dir = fs::path(KILN_SOURCE_DIR) / "tests" / "tf" / "fixtures" / GetParam();
  for (const bool saved_model : {false, true}) {
    const ir::Graph g = saved_model ? tf::import_saved_model((dir / "saved_model").string())
                                    : tf::import_frozen_graph((dir / "frozen.pb").string());
    const Tensor x = read_npy_file((dir / "input.npy").string());
    const auto want = cpu::run_graph(g, {x});
    for (Precision p : gpu_precisions()) {
      auto engine = build_gpu(g, p, 2);
      const auto got = run_gpu(*engine, {x}, 2);
      ASSERT_EQ(got.size(), 2u) << precision_name(p);
      EXPECT_LE(relative_l2(got[0], want[0]), tolerance(p) * 10) << GetParam() << " " << precision_name(p);
      EXPECT_EQ(got[1].dtype(), want[1].dtype()) << precision_name(p);
      EXPECT_EQ(got[1].to_int64s(), want[1].to_int64s()) << GetParam() << " " << precision_name(p);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaTf, ::testing::Values("convnet_nhwc", "convnet_nchw"));

}  // namespace
}  // namespace kiln::cuda_test
