// Throughput of the TF Serving REST numeric path: a :predict body with one 3x224x224 float
// image per instance (nested lists of numbers, as clients send them) parsed into the
// batch tensor, in MB/s of JSON on one core.
//   build/bench/json_parse_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include <fmt/format.h>
#include <simdjson.h>

#include "server/tfserving_rest.h"

namespace {

std::string make_body(int instances) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::string body = R"({"instances": [)";
  for (int i = 0; i < instances; ++i) {
    body += i ? ",[" : "[";
    for (int c = 0; c < 3; ++c) {
      body += c ? ",[" : "[";
      for (int y = 0; y < 224; ++y) {
        body += y ? ",[" : "[";
        for (int x = 0; x < 224; ++x) {
          if (x) body += ',';
          body += fmt::format("{:.6g}", dist(rng));
        }
        body += ']';
      }
      body += ']';
    }
    body += ']';
  }
  return body + "]}";
}

// `general`: a leading "signature_name" key makes the parser skip the numeric fast path,
// for comparison with the simdjson-based general path.
void run_parse(benchmark::State& state, bool general) {
  std::string body = make_body(static_cast<int>(state.range(0)));
  if (general) body.insert(1, R"("signature_name": "serving_default", )");
  const std::vector<kiln::TensorInfo> inputs = {{"input", kiln::DType::kF32, {kiln::kDynamic, 3, 224, 224}}};
  const kiln::server::ImageInputSpec no_image;
  for (auto _ : state) {
    kiln::server::TfPredictRequest request;
    const kiln::Status s = kiln::server::parse_tf_predict(body, inputs, no_image, &request);
    if (!s.ok()) {
      state.SkipWithError(s.message().c_str());
      break;
    }
    benchmark::DoNotOptimize(request.inputs[0].raw());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(body.size()));
  state.counters["body_MB"] = static_cast<double>(body.size()) / 1e6;
  // The general parser's simdjson kernel (haswell/icelake on x86-64; "fallback" would be slow).
  state.SetLabel(std::string("simdjson ") + simdjson::get_active_implementation()->name());
}
void BM_TfPredictNumericJson(benchmark::State& state) { run_parse(state, false); }
void BM_TfPredictNumericJsonGeneralPath(benchmark::State& state) { run_parse(state, true); }
BENCHMARK(BM_TfPredictNumericJson)->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TfPredictNumericJsonGeneralPath)->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
