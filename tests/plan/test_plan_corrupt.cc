#include <cstring>
#include <functional>

#include "../passes/graph_builder.h"
#include "passes/pipeline.h"
#include "plan_test_files.h"
#include "runtime/plan_format.h"

namespace kiln {
namespace {

using nlohmann::json;

std::string saved_plan_bytes() {
  static const std::string bytes = [] {
    Plan plan;
    plan.graph = testing::mini_resnet();
    passes::optimize_for_inference(plan.graph, Precision::kFP32);
    plan.backend = "cpu";
    testing::TempDir dir("_seed");
    save_plan(plan, dir.file("p.plan"));
    return testing::read_bytes(dir.file("p.plan"));
  }();
  return bytes;
}

uint64_t read_u64(const std::string& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, 8);  // little-endian host, as the format
  return v;
}
void write_u32(std::string& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }
void write_u64(std::string& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

struct Parts {
  json header;
  std::string blob;
};

Parts split(const std::string& b) {
  const uint64_t h = read_u64(b, 16);
  const uint64_t blob_at = (kPlanPrefixBytes + h + 255) / 256 * 256;
  return {json::parse(b.substr(kPlanPrefixBytes, h)), b.substr(blob_at)};
}

// A well-formed container (valid header checksum) around any header, for schema tests.
std::string join(const json& header, const std::string& blob) {
  const std::string text = header.dump();
  std::string b(kPlanMagic, 8);
  b.resize(kPlanPrefixBytes);
  write_u32(b, 8, kPlanFormatVersion);
  write_u32(b, 12, 0);
  write_u64(b, 16, text.size());
  write_u64(b, 24, fnv1a64(text.data(), text.size()));
  b += text;
  b.resize((b.size() + 255) / 256 * 256, '\0');
  return b + blob;
}

std::string error_of(const std::string& bytes) {
  try {
    parse_plan_bytes(bytes.data(), bytes.size(), "bad.plan");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PlanCorrupt, TheUntouchedPlanLoads) {
  const std::string b = saved_plan_bytes();
  EXPECT_EQ(error_of(b), "");
  EXPECT_EQ(error_of(join(split(b).header, split(b).blob)), "");
}

TEST(PlanCorrupt, TruncatedAtAnyOffsetIsAClearError) {
  const std::string b = saved_plan_bytes();
  std::vector<size_t> cuts = {0, 1, 7, 8, 12, 16, 24, 31, 32, 33, b.size() - 1};
  for (size_t c = 0; c < b.size(); c += b.size() / 211 + 1) cuts.push_back(c);
  for (size_t cut : cuts) {
    const std::string msg = error_of(b.substr(0, cut));
    EXPECT_NE(msg, "") << "cut at " << cut;
    EXPECT_EQ(msg.rfind("bad.plan: ", 0), 0u) << msg;
  }
  EXPECT_NE(error_of(b.substr(0, b.size() - 1)).find("truncated: header says"), std::string::npos);
}

TEST(PlanCorrupt, EveryFlippedByteIsDetected) {
  const std::string b = saved_plan_bytes();
  std::vector<size_t> positions;
  for (size_t i = 0; i < 64; ++i) positions.push_back(i);
  for (size_t i = 64; i < b.size(); i += b.size() / 301 + 1) positions.push_back(i);
  positions.push_back(b.size() - 1);
  for (size_t at : positions) {
    std::string bad = b;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    EXPECT_NE(error_of(bad), "") << "flip at " << at;
  }
}

TEST(PlanCorrupt, MessagesNameTheProblem) {
  const std::string b = saved_plan_bytes();
  std::string bad = b;
  bad[0] = 'X';
  EXPECT_NE(error_of(bad).find("not a kiln plan (bad magic)"), std::string::npos);

  bad = b;
  write_u32(bad, 8, kPlanFormatVersion + 1);
  try {
    parse_plan_bytes(bad.data(), bad.size(), "bad.plan");
    ADD_FAILURE() << "a future format version loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("format version 2 is not supported"), std::string::npos) << e.what();
  }

  bad = b;
  write_u64(bad, 16, uint64_t{1} << 62);  // absurd header length
  EXPECT_NE(error_of(bad).find("truncated: header says 4611686018427387904 bytes of JSON"), std::string::npos);

  bad = b;
  bad[40] = static_cast<char>(bad[40] ^ 1);
  EXPECT_NE(error_of(bad).find("header checksum mismatch"), std::string::npos);

  bad = b;
  bad[bad.size() - 3] = static_cast<char>(bad[bad.size() - 3] ^ 1);
  EXPECT_NE(error_of(bad).find("weight blob checksum mismatch"), std::string::npos);

  EXPECT_NE(error_of(b + "x").find("1 unexpected bytes after the weights"), std::string::npos);
}

TEST(PlanCorrupt, HeaderSchemaErrorsNameTheField) {
  const Parts p = split(saved_plan_bytes());
  auto error_with = [&](const std::function<void(json&)>& edit) {
    json h = p.header;
    edit(h);
    return error_of(join(h, p.blob));
  };
  EXPECT_NE(error_with([](json& h) { h["blob"]["nbytes"] = uint64_t{1} << 60; })
                .find("truncated: header says 1152921504606846976 bytes of weights"),
            std::string::npos);
  EXPECT_NE(error_with([](json& h) { h.erase("graph"); }).find("header: missing field 'graph'"),
            std::string::npos);
  EXPECT_NE(error_with([](json& h) { h["backend"] = "tpu"; }).find("unknown backend 'tpu'"), std::string::npos);
  EXPECT_NE(error_with([](json& h) { h["precision"] = "fp64"; }).find("precision"), std::string::npos);
  EXPECT_NE(error_with([](json& h) { h["max_batch_size"] = -3; }).find("max_batch_size"), std::string::npos);
  EXPECT_NE(error_with([](json& h) { h["checksums"]["blob"] = "0000000000000000"; }).find("blob checksum mismatch"),
            std::string::npos);
  EXPECT_NE(error_with([](json& h) { h["graph"]["nodes"][0]["inputs"][0] = 100000; })
                .find("graph.nodes[0].inputs: value index 100000 out of range"),
            std::string::npos);
  EXPECT_NE(error_with([](json& h) { h["graph"]["values"][0]["dtype"] = "f128"; }).find("unknown dtype 'f128'"),
            std::string::npos);
  EXPECT_NE(error_with([](json& h) { h["graph"]["values"][0]["dims"] = json::array({1, -5}); })
                .find("negative dimension -5"),
            std::string::npos);
  EXPECT_NE(error_with([](json& h) { h["graph"]["nodes"][0]["attrs"]["x"] = json{{"weird", 1}}; })
                .find("unknown attribute kind 'weird'"),
            std::string::npos);
  EXPECT_NE(error_with([](json& h) { std::swap(h["graph"]["nodes"][0], h["graph"]["nodes"][1]); })
                .find("bad.plan: graph: node"),
            std::string::npos);
  // A constant pointing past the blob, misaligned, or of the wrong size.
  auto first_constant = [](json& h) -> json& {
    for (json& v : h["graph"]["values"])
      if (v.contains("constant")) return v["constant"];
    throw std::runtime_error("no constant");
  };
  EXPECT_NE(error_with([&](json& h) { first_constant(h)["offset"] = uint64_t{1} << 40; }).find("outside the"),
            std::string::npos);
  EXPECT_NE(error_with([&](json& h) { first_constant(h)["offset"] = 4; }).find("not 256-byte aligned"),
            std::string::npos);
  EXPECT_NE(error_with([&](json& h) { first_constant(h)["nbytes"] = 8; }).find("bytes do not hold a f32"),
            std::string::npos);
  EXPECT_NE(error_of(join(json::array({1, 2}), p.blob)).find("expected a JSON object"), std::string::npos);
  EXPECT_NE(error_of(join(json("x"), "")).find("expected a JSON object"), std::string::npos);
}

TEST(PlanCorrupt, DeeplyNestedHeaderIsRefusedNotAStackOverflow) {
  const Parts p = split(saved_plan_bytes());
  std::string text = p.header.dump();
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  text.insert(text.size() - 1, ",\"backend_data_extra\":" + deep);
  std::string b(kPlanMagic, 8);
  b.resize(kPlanPrefixBytes);
  write_u32(b, 8, kPlanFormatVersion);
  write_u64(b, 16, text.size());
  write_u64(b, 24, fnv1a64(text.data(), text.size()));
  b += text;
  b.resize((b.size() + 255) / 256 * 256, '\0');
  EXPECT_NE(error_of(b + p.blob).find("nests deeper than 64 levels"), std::string::npos);
}

TEST(PlanCorrupt, AnotherKilnVersionStillLoads) {
  Parts p = split(saved_plan_bytes());
  p.header["kiln_version"] = "99.0.0";
  EXPECT_EQ(error_of(join(p.header, p.blob)), "");
}

TEST(PlanCorrupt, LoadPlanNamesTheFile) {
  testing::TempDir dir;
  const std::string b = saved_plan_bytes();
  testing::write_bytes(dir.file("cut.plan"), b.substr(0, b.size() - 1000));
  try {
    load_plan(dir.file("cut.plan"));
    ADD_FAILURE() << "a truncated plan loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("cut.plan") + ": truncated: header says"), std::string::npos)
        << e.what();
  }
  testing::write_bytes(dir.file("tiny.plan"), "KILN");
  EXPECT_THROW(load_plan(dir.file("tiny.plan")), Error);
  testing::write_bytes(dir.file("empty.plan"), "");
  EXPECT_THROW(load_plan(dir.file("empty.plan")), Error);
  try {
    load_plan(dir.file("missing.plan"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

}  // namespace
}  // namespace kiln
