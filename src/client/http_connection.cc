#include "client/http_connection.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <strings.h>

#include "core/error.h"

namespace kiln::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Replies are read whole; a batch of class scores is a few MB, a generous bound stops a
// misbehaving server from exhausting memory.
constexpr uint64_t kMaxReplyBytes = 1ull << 30;

bool is_stale_connection_error(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::connection_aborted;
}

std::string seconds_text(std::chrono::milliseconds ms) { return fmt::format("{:g} s", ms.count() / 1000.0); }

}  // namespace

struct HttpConnection::Impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::optional<tcp::resolver::results_type> endpoints;
  bool connected = false;

  // Runs the asynchronous operation started by `start` to completion on this thread.
  template <typename Start>
  beast::error_code run(Start start) {
    beast::error_code result = net::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
    buffer.clear();
    connected = false;
  }
};

std::string HttpReply::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), name.size()) == 0) return v;
  return "";
}

HttpConnection::HttpConnection(ServerUrl url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout), impl_(std::make_unique<Impl>()) {}

HttpConnection::~HttpConnection() { impl_->close(); }

void HttpConnection::close() { impl_->close(); }

HttpOutcome HttpConnection::send(const HttpRequestSpec& request) {
  bool stale = false;
  HttpOutcome outcome = send_once(request, &stale);
  if (stale) outcome = send_once(request, &stale);
  return outcome;
}

HttpOutcome HttpConnection::send_once(const HttpRequestSpec& request, bool* stale_connection) {
  Impl& c = *impl_;
  HttpOutcome out;
  const bool reused = c.connected;
  *stale_connection = false;
  auto failed = [&](FailureKind kind, std::string message) {
    c.close();
    out.failure = kind;
    out.message = std::move(message);
    return out;
  };

  if (!c.connected) {
    if (!c.endpoints) {
      tcp::resolver resolver(c.ioc);
      beast::error_code ec;
      auto results = resolver.resolve(url_.host, std::to_string(url_.port), ec);
      if (ec) return failed(FailureKind::kConnection, fmt::format("cannot resolve host \"{}\": {}", url_.host, ec.message()));
      c.endpoints = std::move(results);
    }
    c.stream.expires_after(timeout_);
    beast::error_code ec = c.run([&](auto handler) { c.stream.async_connect(*c.endpoints, handler); });
    if (ec == beast::error::timeout)
      return failed(FailureKind::kTimeout, fmt::format("connecting to {} timed out after {}", url_.text(), seconds_text(timeout_)));
    if (ec)
      return failed(FailureKind::kConnection,
                    fmt::format("cannot connect to {}: {} (is kiln serve running there?)", url_.text(), ec.message()));
    c.connected = true;
  }

  const http::verb verb = http::string_to_verb(request.method);
  if (verb == http::verb::unknown) return failed(FailureKind::kProtocol, "unknown HTTP method " + request.method);
  http::request<http::string_body> req{verb, request.target, 11};
  req.set(http::field::host, url_.host + ":" + std::to_string(url_.port));
  req.set(http::field::user_agent, "kiln-client");
  req.set(http::field::accept, "application/json, application/octet-stream");
  if (!request.body.empty() || verb == http::verb::post) req.set(http::field::content_type, request.content_type);
  for (const auto& [k, v] : request.headers) req.set(k, v);
  req.keep_alive(true);
  req.body() = request.body;
  req.prepare_payload();

  // One deadline for sending and receiving: the timeout bounds the whole request.
  c.stream.expires_after(timeout_);
  beast::error_code ec = c.run([&](auto handler) { http::async_write(c.stream, req, handler); });
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxReplyBytes);
  if (!ec) ec = c.run([&](auto handler) { http::async_read(c.stream, c.buffer, parser, handler); });
  if (ec) {
    if (ec == beast::error::timeout)
      return failed(FailureKind::kTimeout, fmt::format("{} {} timed out after {} (no complete reply)", request.method,
                                                       request.target, seconds_text(timeout_)));
    if (reused && is_stale_connection_error(ec)) {
      *stale_connection = true;
      return failed(FailureKind::kConnection, "the server closed the kept-alive connection");
    }
    if (is_stale_connection_error(ec) || ec.category() == net::error::get_system_category())
      return failed(FailureKind::kConnection,
                    fmt::format("{} {}: connection to {} lost: {}", request.method, request.target, url_.text(), ec.message()));
    return failed(FailureKind::kProtocol,
                  fmt::format("{} {}: malformed HTTP reply from {}: {}", request.method, request.target, url_.text(), ec.message()));
  }
  c.stream.expires_never();
  auto res = parser.release();
  out.reply.status = static_cast<int>(res.result_int());
  for (const auto& field : res) out.reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.reply.body = std::move(res.body());
  if (!res.keep_alive()) c.close();
  if (out.reply.status >= 400) {
    out.failure = FailureKind::kHttpStatus;
    out.message = fmt::format("HTTP {} from {} {}: {}", out.reply.status, request.method, request.target,
                              server_error_message(out.reply));
  }
  return out;
}

std::string server_error_message(const HttpReply& reply) {
  try {
    const auto j = nlohmann::json::parse(reply.body);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  } catch (const std::exception&) {
    // Not JSON: fall through to the raw body.
  }
  std::string text = reply.body.substr(0, 300);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text.empty() ? "(empty body)" : text;
}

HttpReply send_or_throw(HttpConnection& connection, const HttpRequestSpec& request) {
  HttpOutcome outcome = connection.send(request);
  if (!outcome.ok()) throw Error(outcome.message, ErrorCode::kInternal);
  return std::move(outcome.reply);
}

HttpReply send_or_throw(const ServerUrl& url, const HttpRequestSpec& request, std::chrono::milliseconds timeout) {
  HttpConnection connection(url, timeout);
  return send_or_throw(connection, request);
}

}  // namespace kiln::client
