// One kept-alive HTTP/1.1 connection to a server (Boost.Beast), used synchronously by one
// thread. Every request has a deadline covering connect, send and receive: Beast's
// timeouts only apply to asynchronous operations, so each call starts them and runs a
// private io_context until they finish. A request never throws; it reports how it failed
// (connection, timeout, HTTP status, malformed reply) so load generation can count kinds.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/server_url.h"

namespace kiln::client {

struct HttpRequestSpec {
  std::string method = "POST";
  std::string target;  // path (with the URL's base path already prepended)
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpReply {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Header value by case-insensitive name, "" when absent.
  std::string header(std::string_view name) const;
};

enum class FailureKind { kNone, kConnection, kTimeout, kHttpStatus, kProtocol };

struct HttpOutcome {
  FailureKind failure = FailureKind::kNone;
  std::string message;  // what went wrong, for failures
  HttpReply reply;      // for kNone and kHttpStatus
  bool ok() const { return failure == FailureKind::kNone; }
};

class HttpConnection {
 public:
  HttpConnection(ServerUrl url, std::chrono::milliseconds timeout);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends the request (connecting first when there is no open connection) and reads the
  // whole reply. A status >= 400 is kHttpStatus with the server's error message. A reused
  // connection the server had closed while idle is reopened once, transparently.
  HttpOutcome send(const HttpRequestSpec& request);
  void close();
  const ServerUrl& url() const { return url_; }

 private:
  struct Impl;
  HttpOutcome send_once(const HttpRequestSpec& request, bool* stale_connection);

  ServerUrl url_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Impl> impl_;
};

// The server's error message from an error reply: {"error": "..."} (TF Serving, KServe)
// or, for other bodies, their start.
std::string server_error_message(const HttpReply& reply);

// Sends one request on a fresh connection and throws kiln::Error on any failure, with a
// message that says what to check (for one-shot commands such as `kiln predict`).
HttpReply send_or_throw(const ServerUrl& url, const HttpRequestSpec& request, std::chrono::milliseconds timeout);
HttpReply send_or_throw(HttpConnection& connection, const HttpRequestSpec& request);

}  // namespace kiln::client
