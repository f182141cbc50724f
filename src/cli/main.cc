// kiln: turns trained networks into fast engines, benchmarks and serves them.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/flag_aliases.h"
#include "cli/subcommands.h"
#include "core/error.h"

namespace {

struct Subcommand {
  const char* name;
  int (*entry)(int argc, char** argv);
  const char* summary;
};

const Subcommand kSubcommands[] = {
    {"inspect", kiln::cli::run_inspect, "inputs/outputs, op counts, parameters, FLOPs of a model"},
    {"zoo", kiln::cli::run_zoo, "write a built-in reference model (ResNet-50, MobileNet-v2) as ONNX"},
    {"serve", kiln::cli::run_serve, "TF Serving REST + KServe v2 server with dynamic batching and metrics"},
    {"build", kiln::cli::run_build, "optimize and build a model into a servable engine plan"},
    {"run", kiln::cli::run_run, "top-k labels for images, or outputs for .npy inputs"},
    {"bench", kiln::cli::run_bench, "throughput and latency per precision, with log, JSON and chart"},
    {"eval", kiln::cli::run_eval, "top-1/top-5 accuracy on a labelled image folder; agreement between precisions"},
    {"burn", kiln::cli::run_burn, "load every GPU with checked GEMMs to find faulty GPUs (like gpu-burn)"},
    {"predict", kiln::cli::run_predict, "classify images with a served model (TF Serving REST or KServe v2)"},
    {"loadgen", kiln::cli::run_loadgen, "load-test a served model: throughput, latency percentiles, errors"},
};

void print_usage(FILE* out) {
  std::fprintf(out, "usage: kiln <command> [options]   (kiln <command> --help for details)\n\ncommands:\n");
  for (const auto& c : kSubcommands) std::fprintf(out, "  %-9s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return kiln::cli::kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return kiln::cli::kExitOk;
  }
  for (const auto& c : kSubcommands) {
    if (name != c.name) continue;
    // TensorFlow-style --flag_name spellings are aliases of --flag-name.
    std::vector<std::string> args = kiln::cli::normalize_flag_spellings(argc - 1, argv + 1);
    std::vector<char*> cargs;
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    try {
      return c.entry(static_cast<int>(args.size()), cargs.data());
    } catch (const kiln::Error& e) {
      std::fprintf(stderr, "kiln %s: error: %s\n", c.name, e.what());
      return e.code() == kiln::ErrorCode::kUnavailable ? kiln::cli::kExitNoDevice : kiln::cli::kExitError;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kiln %s: internal error: %s\n", c.name, e.what());
      return kiln::cli::kExitError;
    }
  }
  std::fprintf(stderr, "kiln: unknown command '%s'\n\n", name.c_str());
  print_usage(stderr);
  return kiln::cli::kExitUsage;
}
