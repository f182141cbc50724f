// The HTTP/1.1 transport (Boost.Beast over Asio): keep-alive connections served by a pool
// of threads, a body size limit (413), "Expect: 100-continue", and a graceful stop that
// closes the listening socket and waits for in-flight requests before closing the rest.
//
// The handler is asynchronous: it gets the request and a responder it may call later
// from any thread (e.g. a batcher's), exactly once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/http_message.h"

namespace kiln::server {

struct HttpServerOptions {
  std::string address = "0.0.0.0";
  int port = 8501;          // 0 picks a free port
  int threads = 4;
  uint64_t max_body_bytes = 64ull << 20;
  int idle_timeout_seconds = 120;  // keep-alive connections with no request are closed
};

using HttpHandler = std::function<void(HttpRequest, std::function<void(HttpResponse)>)>;

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the threads. Throws kiln::Error (kUnavailable) when the port is taken.
  void start();
  int port() const { return port_; }
  // Stops accepting connections, waits (up to `timeout_seconds`) for in-flight requests
  // to be answered, then closes every connection and joins the threads.
  void shutdown(double timeout_seconds = 30);
  int64_t in_flight() const { return in_flight_->load(); }

  struct Impl;  // the Asio contexts and acceptor (http_server.cc)

 private:
  HttpServerOptions options_;
  HttpHandler handler_;
  int port_ = 0;
  std::shared_ptr<std::atomic<int64_t>> in_flight_ = std::make_shared<std::atomic<int64_t>>(0);
  std::vector<std::thread> threads_;
  // Last, so connections (which refer to options_ and handler_) are destroyed first.
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::server
