// Protocol-neutral HTTP request/response values. The protocol adapters (TF Serving REST,
// KServe v2, metrics) work on these, so they are unit-testable without sockets and the
// Beast transport stays in one file.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace kiln::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path plus optional query string
  std::string content_type;
  // KServe binary extension: the JSON header's length when the body also carries raw tensors.
  std::optional<size_t> inference_header_length;
  std::string body;
  // The transport hands over a body in a pooled buffer instead of `body` (no copy into a
  // string); `body_owner` keeps it alive, so parsers may wrap slices of it as tensors.
  // The KServe binary section starts 64-byte aligned there, as tensors expect.
  std::shared_ptr<void> body_owner;
  std::string_view body_view;
  std::string_view payload() const { return body_owner ? body_view : std::string_view(body); }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// TF Serving's mapping of error codes to HTTP statuses.
int http_status_for(ErrorCode code);

// {"error": "<message>"} with the JSON-escaped message (the shape both TF Serving and KServe use).
HttpResponse error_response(int status, std::string_view message);
HttpResponse error_response(const Status& status);

// The path part of a target, without "?query".
std::string_view path_of(std::string_view target);

}  // namespace kiln::server
