// Error handling for kiln.
//
// Model loading, graph passes and engine building are deep, cold code paths with many
// ways to fail (a bad file, an unsupported attribute, a shape mismatch). They throw
// kiln::Error, whose message always names what was wrong (file, node, op, shape), and
// the CLI and the HTTP layer turn it into a message plus a non-zero exit or a 4xx/5xx.
// Hot paths (running an engine on a request) return Status instead and never throw.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace kiln {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,   // bad input from the user: a file, a flag, a request
  kNotFound,          // a model, version, file or label that does not exist
  kUnimplemented,     // valid input that kiln does not support (yet)
  kFailedPrecondition,// e.g. a plan built for another GPU
  kResourceExhausted, // queue full, out of memory
  kUnavailable,       // no GPU, model still loading
  kInternal,          // a bug or a library failure
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, ErrorCode code = ErrorCode::kInvalidArgument)
      : std::runtime_error(std::move(message)), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Throws kiln::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
[[noreturn]] void fail_with(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...), code);
}

// Status for hot paths: cheap when ok, carries a code and a message otherwise.
class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok_status() { return Status(); }
  static Status from_error(const Error& e) { return Status(e.code(), e.what()); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Throws kiln::Error if not ok: for cold callers that use exceptions.
  void throw_if_error() const {
    if (!ok()) throw Error(message_, code_);
  }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

#define KILN_CHECK(cond, ...)                    \
  do {                                           \
    if (!(cond)) ::kiln::fail(__VA_ARGS__);      \
  } while (0)

}  // namespace kiln
