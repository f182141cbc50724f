// `kiln burn` without a GPU (the CI case): it must exit with code 3 and say
// "no CUDA GPU found"; bad flags must fail cleanly. GPU-list parsing is checked directly.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"

#if KILN_HAVE_CUDA
#include "backends/cuda/burn/gpu_burn.h"
#endif

namespace {

struct RunResult {
  int exit_code = -1;
  std::string output;
};

RunResult run_kiln(const std::string& args) {
  const std::string command = std::string(KILN_BINARY_DIR) + "/kiln " + args + " 2>&1";
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 512> buffer;
  while (fgets(buffer.data(), buffer.size(), pipe)) result.output += buffer.data();
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool machine_has_gpu() {
#if KILN_HAVE_CUDA
  return kiln::cuda::burn::cuda_gpu_count() > 0;
#else
  return false;
#endif
}

TEST(BurnCli, WithoutGpuExitsThreeWithMessage) {
  if (machine_has_gpu()) GTEST_SKIP() << "a CUDA GPU is present; the no-GPU path cannot be exercised";
  const RunResult r = run_kiln("burn --seconds 1");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("no CUDA GPU found"), std::string::npos) << r.output;
}

TEST(BurnCli, BadFlagsFailCleanly) {
  for (const char* args : {"burn --memory-fraction 5", "burn --seconds -1", "burn --no-such-flag"}) {
    const RunResult r = run_kiln(args);
    EXPECT_NE(r.exit_code, 0) << args << ": " << r.output;
    EXPECT_LT(r.exit_code, 128) << args << " crashed: " << r.output;
  }
}

TEST(BurnCli, HelpListsTheOptions) {
  const RunResult r = run_kiln("burn --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* flag : {"--seconds", "--gpus", "--memory-fraction", "--report-interval"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
}

#if KILN_HAVE_CUDA
TEST(BurnGpuList, ParsesAllAndLists) {
  using kiln::cuda::burn::parse_gpu_list;
  EXPECT_EQ(parse_gpu_list("all", 3), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(parse_gpu_list("2,0", 3), (std::vector<int>{2, 0}));
  EXPECT_THROW(parse_gpu_list("3", 3), kiln::Error);
  EXPECT_THROW(parse_gpu_list("0,0", 3), kiln::Error);
  EXPECT_THROW(parse_gpu_list("a", 3), kiln::Error);
  EXPECT_THROW(parse_gpu_list("0,", 3), kiln::Error);
  EXPECT_THROW(parse_gpu_list("-1", 3), kiln::Error);
}
#endif

}  // namespace
