// Every `kiln` subcommand is one file, cmd_<name>.cc, exposing one entry point.
// Each returns the process exit code; errors are reported by main.
#pragma once

namespace kiln::cli {

// Exit codes shared by all subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;      // bad input, failed run
inline constexpr int kExitUsage = 2;      // bad flags
inline constexpr int kExitNoDevice = 3;   // a GPU was required and none is present

int run_inspect(int argc, char** argv);
int run_zoo(int argc, char** argv);
int run_serve(int argc, char** argv);
int run_build(int argc, char** argv);
int run_run(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_burn(int argc, char** argv);
int run_predict(int argc, char** argv);
int run_loadgen(int argc, char** argv);
int run_eval(int argc, char** argv);

}  // namespace kiln::cli
