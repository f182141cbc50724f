// Model repository: version discovery and policies, config.json, loading real ONNX models
// on the CPU, swapping in a new version, reporting a version that fails to load.
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "server/metrics.h"
#include "server/model_config.h"
#include "server/model_repository.h"

namespace kiln::server {
namespace {

namespace fs = std::filesystem;

// y = x * scale, x: f32 [N, 2]. The scale tells versions apart.
void write_scale_model(const fs::path& file, float scale) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("scale");
  auto* init = g->add_initializer();
  init->set_name("s");
  init->set_data_type(::onnx::TensorProto::FLOAT);
  init->add_float_data(scale);
  auto* node = g->add_node();
  node->set_op_type("Mul");
  node->set_name("mul");
  node->add_input("x");
  node->add_input("s");
  node->add_output("y");
  for (auto [list, name] : {std::pair{g->mutable_input(), "x"}, std::pair{g->mutable_output(), "y"}}) {
    auto* vi = list->Add();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(::onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    tt->mutable_shape()->add_dim()->set_dim_value(2);
  }
  fs::create_directories(file.parent_path());
  std::ofstream f(file, std::ios::binary);
  ASSERT_TRUE(m.SerializeToOstream(&f));
}

class RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("kiln_repo_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
  }
  void TearDown() override { fs::remove_all(base_); }

  ModelConfig config() const {
    ModelConfig c;
    c.name = "scale";
    c.base_path = base_.string();
    c.batch_timeout_micros = 0;
    return c;
  }
  static float run_one(ServedVersion& v, float x) {
    InferenceResult r = v.batcher().infer({Tensor::from_vector<float>({1, 2}, {x, -x})});
    EXPECT_TRUE(r.status.ok()) << r.status.message();
    return r.status.ok() ? r.outputs[0].data<float>()[0] : 0;
  }
  fs::path base_;
};

TEST(VersionPolicy, SelectsVersions) {
  EXPECT_EQ(VersionPolicy::parse("latest").select({3, 1, 2}), (std::vector<int64_t>{3}));
  EXPECT_EQ(VersionPolicy::parse("latest:2").select({3, 1, 2}), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(VersionPolicy::parse("all").select({3, 1}), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(VersionPolicy::parse("specific:1,3").select({1, 2, 3, 4}), (std::vector<int64_t>{1, 3}));
  EXPECT_THROW(VersionPolicy::parse("newest"), Error);
  EXPECT_THROW(VersionPolicy::parse("specific:a"), Error);
}

TEST(ModelConfigJson, AppliesFieldsAndRejectsBadOnes) {
  ModelConfig c;
  apply_config_json(R"({"max_batch_size": 32, "batch_timeout_micros": 500, "preferred_batch_sizes": [8, 16],
                       "max_queue_size": 10, "image_input": true, "instances_per_device": 2})",
                    "config.json", &c);
  EXPECT_EQ(c.max_batch_size, 32);
  EXPECT_EQ(c.batch_timeout_micros, 500);
  EXPECT_EQ(c.preferred_batch_sizes, (std::vector<int>{8, 16}));
  EXPECT_EQ(c.max_queue_size, 10);
  EXPECT_TRUE(c.image_input.value());
  EXPECT_EQ(c.instances_per_device, 2);
  try {
    apply_config_json(R"({"max_batch_size": -1})", "m/config.json", &c);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m/config.json: \"max_batch_size\""), std::string::npos) << e.what();
  }
  EXPECT_THROW(apply_config_json(R"({"max_batch": 3})", "x", &c), Error);
  EXPECT_THROW(apply_config_json("{", "x", &c), Error);
}

TEST_F(RepositoryTest, LoadsLatestAndSwapsInANewVersion) {
  write_scale_model(base_ / "1" / "model.onnx", 2.f);
  fs::create_directories(base_ / "not_a_version");
  ServerMetrics metrics;
  ModelRepository repo({config()}, /*poll_seconds=*/0, &metrics);
  repo.start();
  Status s;
  auto v1 = repo.find("scale", std::nullopt, "", &s);
  ASSERT_TRUE(v1) << s.message();
  EXPECT_EQ(v1->version(), 1);
  EXPECT_EQ(run_one(*v1, 1.5f), 3.f);
  v1.reset();

  write_scale_model(base_ / "2" / "model.onnx", 10.f);
  repo.poll_once();
  auto v2 = repo.find("scale", std::nullopt, "", &s);
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->version(), 2);
  EXPECT_EQ(run_one(*v2, 1.5f), 15.f);
  EXPECT_FALSE(repo.find("scale", 1, "", &s));
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  // The old version drains and ends.
  std::vector<VersionState> states;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(repo.states("scale", 1, "", &states).ok());
    if (states[0].state == "END") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(states[0].state, "END");
  std::string text;
  repo.render_metrics(text);
  EXPECT_NE(text.find("kiln_model_state{model=\"scale\",version=\"2\",state=\"AVAILABLE\"} 1"), std::string::npos)
      << text;
  v2.reset();  // the unloader waits for every holder of a version before freeing it
  repo.stop();
}

TEST_F(RepositoryTest, AllPolicyServesEveryVersionAndConfigJsonApplies) {
  write_scale_model(base_ / "1" / "model.onnx", 2.f);
  write_scale_model(base_ / "3" / "model.onnx", 3.f);
  std::ofstream(base_ / "3" / "config.json") << R"({"max_batch_size": 3})";
  ModelConfig c = config();
  c.version_policy = VersionPolicy::parse("all");
  ModelRepository repo({c}, 0, nullptr);
  repo.start();
  Status s;
  auto v1 = repo.find("scale", 1, "", &s);
  auto v3 = repo.find("scale", 3, "", &s);
  ASSERT_TRUE(v1 && v3);
  EXPECT_EQ(v1->batcher().options().max_batch_size, 8);
  EXPECT_EQ(v3->batcher().options().max_batch_size, 3);
  EXPECT_EQ(repo.find("scale", std::nullopt, "", &s)->version(), 3);
  v1.reset();
  v3.reset();
  repo.stop();
}

TEST_F(RepositoryTest, BrokenVersionIsReportedNotFatal) {
  fs::create_directories(base_ / "1");
  std::ofstream(base_ / "1" / "model.onnx") << "this is not an onnx file";
  ModelRepository repo({config()}, 0, nullptr);
  repo.start();
  std::vector<VersionState> states;
  ASSERT_TRUE(repo.states("scale", std::nullopt, "", &states).ok());
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].state, "END");
  EXPECT_FALSE(states[0].status.ok());
  EXPECT_NE(states[0].status.message().find("model.onnx"), std::string::npos) << states[0].status.message();
  Status s;
  EXPECT_FALSE(repo.find("scale", std::nullopt, "", &s));
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_FALSE(repo.all_ready());
  EXPECT_EQ(repo.states("other", std::nullopt, "", &states).code(), ErrorCode::kNotFound);
}

TEST_F(RepositoryTest, MissingBasePathIsReported) {
  ModelConfig c = config();
  c.base_path = (base_ / "absent").string();
  ModelRepository repo({c}, 0, nullptr);
  repo.start();
  std::vector<VersionState> states;
  ASSERT_TRUE(repo.states("scale", std::nullopt, "", &states).ok());
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].state, "END");
  EXPECT_NE(states[0].status.message().find("does not exist"), std::string::npos);
}

TEST(Metrics, PrometheusText) {
  ServerMetrics m;
  m.count_request("a", "success");
  m.count_request("a", "success");
  m.count_request("a", "client_error");
  m.observe_batch_size("a", 3);
  m.observe_latency("a", "total", 0.003);
  std::string out;
  m.render(out);
  EXPECT_NE(out.find("kiln_requests_total{model=\"a\",outcome=\"success\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("kiln_requests_total{model=\"a\",outcome=\"client_error\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("kiln_batch_size_bucket{model=\"a\",le=\"2\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("kiln_batch_size_bucket{model=\"a\",le=\"4\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("kiln_request_latency_seconds_bucket{model=\"a\",stage=\"total\",le=\"0.002\"} 0\n"),
            std::string::npos);
  EXPECT_NE(out.find("kiln_request_latency_seconds_bucket{model=\"a\",stage=\"total\",le=\"0.005\"} 1\n"),
            std::string::npos);
  EXPECT_NE(out.find("kiln_request_latency_seconds_count{model=\"a\",stage=\"total\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("# TYPE kiln_batch_size histogram"), std::string::npos);
}

}  // namespace
}  // namespace kiln::server
