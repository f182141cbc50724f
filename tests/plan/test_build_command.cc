// `kiln build` end to end: the real binary, a zoo model, the plan it writes.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "plan_test_files.h"
#include "runtime/model_loader.h"
#include "runtime/plan_format.h"
#include "zoo/zoo.h"

namespace kiln {
namespace {

struct KilnRun {
  int exit_code;
  std::string output;  // stdout and stderr
};

KilnRun run_kiln(const std::string& args) {
  const std::string command = std::string(KILN_BINARY_DIR) + "/kiln " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class BuildCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::string(KILN_BINARY_DIR) + "/kiln")) GTEST_SKIP() << "kiln binary not built";
    model_ = dir_.file("mobilenet.onnx");
    zoo::write_zoo_model("mobilenet-v2", model_);
  }
  testing::TempDir dir_;
  std::string model_;
};

TEST_F(BuildCommand, WritesAServableVersionDirectory) {
  const std::string out = dir_.file("models/mobilenet/1");
  const KilnRun r = run_kiln("build --input-model " + model_ + " --output-model " + out + " --device cpu --batch-size 4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("before optimization"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("plan size"), std::string::npos) << r.output;
  const Plan plan = load_plan(out + "/model.plan");
  EXPECT_EQ(plan.backend, "cpu");
  EXPECT_EQ(plan.precision, Precision::kFP32);
  int fused = 0;
  for (const auto& n : plan.graph.nodes) fused += n.op == "FusedConv";
  EXPECT_GT(fused, 30);  // MobileNet-v2: conv + bn + relu6 everywhere
  EXPECT_EQ(detect_model_format(out + "/model.plan"), ModelFormat::kPlan);
}

TEST_F(BuildCommand, AcceptsTheTfTrtFlagSpellings) {
  const std::string out = dir_.file("tftrt/1");
  const KilnRun r = run_kiln("build --input_model_dir " + model_ + " --output_model_dir " + out +
                         " --precision_mode FP32 --batch_size 2 --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(out + "/model.plan"));
}

TEST_F(BuildCommand, NativeBuildsKeepTheGraphUnfused) {
  const std::string out = dir_.file("native.plan");
  const KilnRun r = run_kiln("build --input-model " + model_ + " --output-model " + out + " --precision native --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Plan plan = load_plan(out);
  EXPECT_EQ(plan.precision, Precision::kNative);
  for (const auto& n : plan.graph.nodes) EXPECT_NE(n.domain, "kiln") << n.name;
}

TEST_F(BuildCommand, BadInputsFailWithAMessage) {
  KilnRun r = run_kiln("build --input-model " + dir_.file("missing.onnx") + " --output-model " + dir_.file("o/1") +
                   " --device cpu");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no such file or directory"), std::string::npos) << r.output;
  r = run_kiln("build --input-model " + model_ + " --output-model " + dir_.file("o/1") + " --device cpu --precision fp99");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("unknown precision 'fp99'"), std::string::npos) << r.output;
  r = run_kiln("build --input-model " + model_ + " --output-model " + dir_.file("o/1") + " --device tpu");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("unknown device 'tpu'"), std::string::npos) << r.output;
  r = run_kiln("build --output-model " + dir_.file("o/1"));
  EXPECT_EQ(r.exit_code, 2) << r.output;  // usage error: --input-model is required
  EXPECT_FALSE(std::filesystem::exists(dir_.file("o/1/model.plan")));
}

}  // namespace
}  // namespace kiln
