// Flag parsing for subcommands with kiln's exit codes: CLI11 reports parse errors with its
// own codes (100+), which would read like crashes to scripts; kiln exits 2 for bad flags.
#pragma once

#include <optional>

#include <CLI/CLI.hpp>

#include "cli/subcommands.h"

namespace kiln::cli {

// Parses argv (argv[0] is the subcommand name). Returns an exit code when the command
// should stop: kExitOk after --help, kExitUsage after a bad flag (CLI11 printed why).
inline std::optional<int> parse_flags(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  return std::nullopt;
}

}  // namespace kiln::cli
