#include "server/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "server/buffer_pool.h"

namespace kiln::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kReadBufferBytes = 256 * 1024;

// A request body read straight into a pooled, 64-byte aligned buffer (buffer_pool.h)
// sized once from Content-Length: no std::string growth or zero fill, pages already
// mapped, and a KServe binary section (after Inference-Header-Content-Length bytes of
// JSON) placed on a 64-byte boundary so that tensors can wrap it without a copy.
struct PooledBody {
  struct value_type {
    std::shared_ptr<void> owner;
    char* data = nullptr;
    size_t size = 0, capacity = 0;
    size_t align_to = 0;  // offset in the body that should land on a 64-byte boundary
  };
  static std::uint64_t size(const value_type& v) { return v.size; }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>& h, value_type& b) : body_(b) {
      const auto text = h["Inference-Header-Content-Length"];
      size_t n = 0;
      if (std::from_chars(text.data(), text.data() + text.size(), n).ec == std::errc()) body_.align_to = n;
    }
    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      ec = {};
      if (length) grow(static_cast<size_t>(*length));
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      ec = {};
      const size_t n = beast::buffer_bytes(buffers);
      if (body_.size + n > body_.capacity) grow(std::max(body_.size + n, body_.capacity * 2));
      body_.size += net::buffer_copy(net::buffer(body_.data + body_.size, n), buffers);
      return n;
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    void grow(size_t capacity) {
      const size_t shift = (64 - body_.align_to % 64) % 64;
      auto owner = acquire_host_buffer(shift + std::max<size_t>(capacity, 1));
      char* data = static_cast<char*>(owner.get()) + shift;
      if (body_.size) std::memcpy(data, body_.data, body_.size);
      body_.owner = std::move(owner);
      body_.data = data;
      body_.capacity = capacity;
    }
    value_type& body_;
  };
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServerOptions& options, const HttpHandler& handler,
          std::shared_ptr<std::atomic<int64_t>> in_flight)
      : stream_(std::move(socket)), options_(options), handler_(handler), in_flight_(std::move(in_flight)) {
    // Beast reads at most the buffer's spare capacity per call: without room reserved a
    // multi-megabyte body arrives in ~1 kB reads, each a full trip through Asio.
    buffer_.reserve(kReadBufferBytes);
  }

  void start() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read_header, shared_from_this()));
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    auto& req = parser_->get();
    const auto length = parser_->content_length();
    if (length && *length > options_.max_body_bytes) return reject_too_large();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, req.version());
      http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code e, std::size_t) {
        if (e) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::body_limit) return reject_too_large();
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset)
      return close();
    // Anything else is a malformed request: answer 400 and close, as the stream is unusable.
    send_final(error_response(400, std::string("malformed HTTP request: ") + ec.message()));
  }

  void reject_too_large() {
    send_final(error_response(413, fmt::format("request body exceeds the limit of {} bytes (--max-body-bytes)",
                                               options_.max_body_bytes)));
  }

  void send_final(HttpResponse r) {
    keep_alive_ = false;
    write(std::move(r), /*counted=*/false);
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    auto req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.content_type = std::string(req[http::field::content_type]);
    const auto header_len = req["Inference-Header-Content-Length"];
    if (!header_len.empty()) {
      size_t n = 0;
      auto res = std::from_chars(header_len.data(), header_len.data() + header_len.size(), n);
      if (res.ec != std::errc() || res.ptr != header_len.data() + header_len.size()) {
        in_flight_->fetch_add(1);
        return write(error_response(400, "Inference-Header-Content-Length must be a non-negative integer"), true);
      }
      r.inference_header_length = n;
    }
    r.body_owner = std::move(req.body().owner);
    r.body_view = std::string_view(req.body().data ? req.body().data : "", req.body().size);
    in_flight_->fetch_add(1);
    // The responder may run on any thread; hop back to this connection's executor.
    auto self = shared_from_this();
    try {
      handler_(std::move(r), [self](HttpResponse resp) {
        net::post(self->stream_.get_executor(), [self, resp = std::move(resp)]() mutable {
          self->write(std::move(resp), true);
        });
      });
    } catch (const std::exception& e) {
      write(error_response(500, std::string("internal error: ") + e.what()), true);
    }
  }

  void write(HttpResponse r, bool counted) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "kiln");
    res->set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_);
    res->body() = std::move(r.body);
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
    http::async_write(stream_, *res, [self = shared_from_this(), res, counted](beast::error_code ec, std::size_t) {
      if (counted) self->in_flight_->fetch_sub(1);
      if (ec || !self->keep_alive_) return self->close();
      self->read_header();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  const HttpServerOptions& options_;
  const HttpHandler& handler_;
  std::shared_ptr<std::atomic<int64_t>> in_flight_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<PooledBody>> parser_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

}  // namespace

// One io_context per thread, each run by exactly one thread: a connection lives on one
// of them, so reading a multi-megabyte body is a series of completions on one thread
// instead of hand-offs between all threads of a shared context (which profiling showed
// as most of the time spent on large binary tensors).
struct HttpServer::Impl {
  explicit Impl(int threads) {
    for (int i = 0; i < threads; ++i) {
      contexts.push_back(std::make_unique<net::io_context>(1));
      // Requests waiting on a batcher have no pending socket operation; without a guard
      // a thread would return from run() once its sockets are idle, stranding answers.
      guards.push_back(net::make_work_guard(*contexts.back()));
    }
    acceptor.emplace(*contexts[0]);
  }
  net::io_context& next_context() { return *contexts[next++ % contexts.size()]; }

  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  std::optional<tcp::acceptor> acceptor;
  size_t next = 0;  // touched only by the acceptor's thread
  std::atomic<bool> accepting{true};
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)),
      impl_(std::make_unique<Impl>(std::max(1, options_.threads))) {}

HttpServer::~HttpServer() { shutdown(0); }

namespace {

void do_accept(HttpServer::Impl& impl, const HttpServerOptions& options, const HttpHandler& handler,
               std::shared_ptr<std::atomic<int64_t>> in_flight) {
  impl.acceptor->async_accept(impl.next_context(), [&impl, &options, &handler, in_flight](beast::error_code ec,
                                                                                          tcp::socket socket) {
    if (ec == net::error::operation_aborted || !impl.acceptor->is_open()) return;
    if (!ec) {
      beast::error_code opt_ec;
      socket.set_option(tcp::no_delay(true), opt_ec);
      std::make_shared<Session>(std::move(socket), options, handler, in_flight)->start();
    }
    do_accept(impl, options, handler, in_flight);
  });
}

}  // namespace

void HttpServer::start() {
  beast::error_code ec;
  const auto address = net::ip::make_address(options_.address, ec);
  if (ec) fail("--rest-api-address '{}': not an IP address", options_.address);
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  auto& acc = *impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    fail_with(ErrorCode::kUnavailable, "cannot listen on {}:{}: {}", options_.address, options_.port, ec.message());
  port_ = acc.local_endpoint().port();
  do_accept(*impl_, options_, handler_, in_flight_);
  for (auto& context : impl_->contexts) threads_.emplace_back([ctx = context.get()] { ctx->run(); });
}

void HttpServer::shutdown(double timeout_seconds) {
  if (threads_.empty()) return;
  net::post(impl_->acceptor->get_executor(), [this] {
    beast::error_code ec;
    impl_->acceptor->close(ec);
  });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (in_flight_->load() > 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  impl_->guards.clear();
  for (auto& context : impl_->contexts) context->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace kiln::server
