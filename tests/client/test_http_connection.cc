// The client's transport against a small in-test HTTP server on loopback: keep-alive,
// error replies, refused connections, timeouts, a server closing idle connections, and a
// short load run in both loop modes.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "client/http_connection.h"
#include "client/load_generator.h"
#include "core/error.h"

namespace kiln::client {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

struct TestReply {
  int status = 200;
  std::string body = "{}";
  bool close_after = false;  // close the socket without announcing it (an idle-timeout close)
  std::chrono::milliseconds delay{0};
};

// Answers every request with handler(request); one thread per connection.
class TestServer {
 public:
  explicit TestServer(std::function<TestReply(const http::request<http::string_body>&)> handler)
      : handler_(std::move(handler)), acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~TestServer() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    beast::error_code ec;
    acceptor_.close(ec);
    accept_thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : sockets_) ::shutdown(s->native_handle(), SHUT_RDWR);
    for (auto& t : threads_) t.join();
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }
  ServerUrl url() const { return ServerUrl{"127.0.0.1", port_, ""}; }

 private:
  void accept_loop() {
    while (!stopping_) {
      auto socket = std::make_shared<tcp::socket>(ioc_);
      beast::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec) return;
      ++accepted_;
      std::lock_guard<std::mutex> lock(mu_);
      sockets_.push_back(socket);
      threads_.emplace_back([this, socket] { serve(*socket); });
    }
  }
  void serve(tcp::socket& socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      beast::error_code ec;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      const TestReply r = handler_(req);
      if (r.delay.count()) std::this_thread::sleep_for(r.delay);
      http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
      res.set(http::field::content_type, "application/json");
      res.keep_alive(true);
      res.body() = r.body;
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec || r.close_after) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        return;
      }
    }
  }

  std::function<TestReply(const http::request<http::string_body>&)> handler_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
};

// A loopback port with nothing listening: bind one, note it, close it.
int closed_port() {
  net::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const int port = a.local_endpoint().port();
  a.close();
  return port;
}

HttpRequestSpec post(std::string target, std::string body) {
  HttpRequestSpec r;
  r.target = std::move(target);
  r.body = std::move(body);
  return r;
}

TEST(HttpConnection, KeepsTheConnectionAliveAndEchoes) {
  TestServer server([](const auto& req) {
    TestReply r;
    r.body = std::string(req.target()) + "|" + req.body();
    return r;
  });
  HttpConnection c(server.url(), 5000ms);
  for (int i = 0; i < 5; ++i) {
    const HttpOutcome o = c.send(post("/v1/models/m:predict", "body" + std::to_string(i)));
    ASSERT_TRUE(o.ok()) << o.message;
    EXPECT_EQ(o.reply.status, 200);
    EXPECT_EQ(o.reply.body, "/v1/models/m:predict|body" + std::to_string(i));
    EXPECT_EQ(o.reply.header("content-type"), "application/json");
  }
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpConnection, ErrorRepliesCarryTheServersMessage) {
  TestServer server([](const auto&) {
    TestReply r;
    r.status = 404;
    r.body = R"J({"error":"Servable not found for request: Latest(nope)"})J";
    return r;
  });
  HttpConnection c(server.url(), 5000ms);
  const HttpOutcome o = c.send(post("/v1/models/nope:predict", "{}"));
  EXPECT_EQ(o.failure, FailureKind::kHttpStatus);
  EXPECT_EQ(o.reply.status, 404);
  EXPECT_NE(o.message.find("HTTP 404"), std::string::npos) << o.message;
  EXPECT_NE(o.message.find("Servable not found for request: Latest(nope)"), std::string::npos) << o.message;
  try {
    send_or_throw(c, post("/v1/models/nope:predict", "{}"));
    ADD_FAILURE() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Servable not found"), std::string::npos) << e.what();
  }
}

TEST(HttpConnection, RefusedConnectionIsAConnectionFailure) {
  HttpConnection c(ServerUrl{"127.0.0.1", closed_port(), ""}, 2000ms);
  const auto t0 = std::chrono::steady_clock::now();
  const HttpOutcome o = c.send(post("/v1/models/m:predict", "{}"));
  EXPECT_EQ(o.failure, FailureKind::kConnection);
  EXPECT_NE(o.message.find("cannot connect"), std::string::npos) << o.message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
}

TEST(HttpConnection, SilentServerTimesOut) {
  TestServer server([](const auto&) {
    TestReply r;
    r.delay = 1500ms;
    return r;
  });
  HttpConnection c(server.url(), 300ms);
  const auto t0 = std::chrono::steady_clock::now();
  const HttpOutcome o = c.send(post("/slow", "{}"));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(o.failure, FailureKind::kTimeout) << o.message;
  EXPECT_NE(o.message.find("timed out"), std::string::npos) << o.message;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1200ms);
}

TEST(HttpConnection, ReconnectsWhenTheServerClosedAnIdleConnection) {
  TestServer server([](const auto&) {
    TestReply r;
    r.close_after = true;
    return r;
  });
  HttpConnection c(server.url(), 5000ms);
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(20ms);  // let the close reach the client
    const HttpOutcome o = c.send(post("/x", "{}"));
    ASSERT_TRUE(o.ok()) << i << ": " << o.message;
  }
  EXPECT_EQ(server.accepted(), 3);
}

TEST(LoadGenerator, ClosedLoopCountsSuccessesAndLatency) {
  TestServer server([](const auto&) {
    TestReply r;
    r.delay = 5ms;
    return r;
  });
  LoadOptions o;
  o.url = server.url();
  o.request = post("/v1/models/m:predict", "{}");
  o.concurrency = 2;
  o.duration_s = 0.6;
  o.warmup_s = 0.1;
  o.images_per_request = 4;
  const auto t0 = std::chrono::steady_clock::now();
  const LoadResult r = run_load(o);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(r.stats.failed, 0) << r.stats.first_error;
  // Two connections, each at most 1 request per 5 ms for 0.6 s.
  EXPECT_GT(r.stats.succeeded, 20);
  EXPECT_LE(r.stats.succeeded, 2 * 120 + 2);
  EXPECT_GT(r.warmup_requests, 0);
  const auto j = load_report_json(o, r);
  EXPECT_EQ(j["mode"], "concurrency");
  EXPECT_GE(j["latency_ms"]["p50"].get<double>(), 5.0);
  EXPECT_LE(j["latency_ms"]["p50"].get<double>(), j["latency_ms"]["p99"].get<double>());
  EXPECT_NEAR(j["throughput"]["images_per_s"].get<double>(), 4 * j["throughput"]["requests_per_s"].get<double>(), 1e-9);
}

TEST(LoadGenerator, OpenLoopSendsAtTheRequestedRate) {
  TestServer server([](const auto&) { return TestReply{}; });
  LoadOptions o;
  o.url = server.url();
  o.request = post("/x", "{}");
  o.request_rate = 100;
  o.distribution = Distribution::kConstant;
  o.max_connections = 4;
  o.duration_s = 1.0;
  const LoadResult r = run_load(o);
  EXPECT_EQ(r.stats.failed, 0) << r.stats.first_error;
  EXPECT_NEAR(static_cast<double>(r.stats.succeeded + r.unfinished), 100.0, 3.0);
}

TEST(LoadGenerator, DownServerGivesConnectionErrorsAndStopsOnTime) {
  LoadOptions o;
  o.url = ServerUrl{"127.0.0.1", closed_port(), ""};
  o.request = post("/x", "{}");
  o.concurrency = 3;
  o.duration_s = 0.5;
  o.timeout_s = 1;
  const auto t0 = std::chrono::steady_clock::now();
  const LoadResult r = run_load(o);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(r.stats.succeeded, 0);
  EXPECT_GT(r.stats.failed, 0);
  EXPECT_EQ(r.stats.errors_by_kind.at("connection"), r.stats.failed);
  const auto j = load_report_json(o, r);
  EXPECT_EQ(j["errors"]["total"], r.stats.failed);
  EXPECT_EQ(j["errors"]["by_kind"]["connection"], r.stats.failed);
}

TEST(LoadGenerator, RejectsNonsenseOptions) {
  LoadOptions o;
  o.url = ServerUrl{"127.0.0.1", 1, ""};
  o.duration_s = 0;
  EXPECT_THROW(run_load(o), Error);
  o.duration_s = 1;
  o.concurrency = 0;
  EXPECT_THROW(run_load(o), Error);
}

}  // namespace
}  // namespace kiln::client
