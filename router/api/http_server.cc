#include "router/api/http_server.h"

#include <atomic>
#include <deque>
#include <exception>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "boost/asio/bind_executor.hpp"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/logging.h"
#include "router/api/api_error.h"

namespace moeserve::router::api {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

namespace {

// Bytes read ahead (pipelined requests) while a response is pending, at most.
constexpr size_t kMaxReadAhead = 64 << 10;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

}  // namespace

absl::Status HttpServerOptions::Validate() const {
  if (num_threads < 1) return absl::InvalidArgumentError("http: num_threads must be >= 1");
  if (max_body_bytes < 1) return absl::InvalidArgumentError("http: max_body_bytes must be >= 1");
  if (max_header_bytes < 256) {
    return absl::InvalidArgumentError("http: max_header_bytes must be >= 256");
  }
  if (read_timeout <= absl::ZeroDuration() || write_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("http: timeouts must be > 0");
  }
  if (max_pending_write_bytes < 1 || max_connections < 1) {
    return absl::InvalidArgumentError("http: limits must be >= 1");
  }
  boost::system::error_code ec;
  net::ip::make_address(address, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("http: bad address '", address, "'"));
  return absl::OkStatus();
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

namespace {

struct Route {
  std::string method;
  std::string path;
  HttpHandler handler;
};

// What the io threads share: the io_context (kept alive by every connection, since writers may
// hold a connection after the server is gone), the routes and the options.
struct Core {
  explicit Core(HttpServerOptions o) : options(std::move(o)) {}
  const HttpServerOptions options;
  net::io_context ioc;
  std::vector<Route> routes;  // Fixed once started.
  std::atomic<bool> stopped{false};
  std::atomic<int32_t> connections{0};
};

class Session;

// Tracks live sessions so that Stop() can close them.
class Registry {
 public:
  void Add(const std::shared_ptr<Session>& s) {
    absl::MutexLock lock(&mu_);
    sessions_.push_back(s);
    if (sessions_.size() > 64 && sessions_.size() > 2 * live_hint_) Prune();
  }
  std::vector<std::shared_ptr<Session>> Live() {
    absl::MutexLock lock(&mu_);
    Prune();
    std::vector<std::shared_ptr<Session>> out;
    for (auto& w : sessions_) {
      if (auto s = w.lock()) out.push_back(std::move(s));
    }
    return out;
  }

 private:
  void Prune() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::erase_if(sessions_, [](const std::weak_ptr<Session>& w) { return w.expired(); });
    live_hint_ = sessions_.size();
  }
  absl::Mutex mu_;
  std::vector<std::weak_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  size_t live_hint_ ABSL_GUARDED_BY(mu_) = 0;
};

std::string StatusLine(int status) {
  const auto reason = http::obsolete_reason(static_cast<http::status>(status));
  return absl::StrCat(
      "HTTP/1.1 ", status, " ",
      reason.empty() ? std::string("Unknown") : std::string(reason.data(), reason.size()), "\r\n");
}

// One connection. Everything below runs on its strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Core> core, tcp::socket socket)
      : core_(std::move(core)), stream_(std::move(socket)) {
    ++core_->connections;
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);  // Tokens go out as they come.
  }
  ~Session() { --core_->connections; }

  net::any_io_executor executor() { return stream_.get_executor(); }

  void Start() {
    net::dispatch(executor(), [self = shared_from_this()] { self->DoRead(); });
  }

  // Refuses the connection: 503 and close.
  void Refuse() {
    net::dispatch(executor(), [self = shared_from_this()] {
      self->keep_alive_ = false;
      self->in_response_ = true;
      self->RespondNow(503, "application/json", ErrorBody(503, "too many connections; retry later"),
                       {});
    });
  }

  // ---- Called on the strand by the writer ----
  void RespondNow(int status, std::string content_type, std::string body, HttpHeaders headers) {
    if (closed_ || !in_response_ || started_) return;
    started_ = true;
    std::string head = StatusLine(status);
    AppendHeaders(&head, content_type, headers);
    absl::StrAppend(&head, "Content-Length: ", body.size(), "\r\n\r\n");
    Queue(std::move(head));
    Queue(std::move(body));
    final_queued_ = true;
    Flush();
  }

  void StartStreamNow(int status, std::string content_type, HttpHeaders headers) {
    if (closed_ || !in_response_ || started_) return;
    started_ = true;
    streaming_ = true;
    chunked_ = version_ >= 11;
    if (!chunked_) keep_alive_ = false;  // HTTP/1.0: the end of the body is the close.
    std::string head = StatusLine(status);
    headers.emplace_back("Cache-Control", "no-cache");
    AppendHeaders(&head, content_type, headers);
    if (chunked_) head += "Transfer-Encoding: chunked\r\n";
    head += "\r\n";
    Queue(std::move(head));
    Flush();
  }

  void WriteNow(std::string data) {
    if (closed_ || !streaming_ || final_queued_ || data.empty()) return;
    if (chunked_) {
      char size[32];
      const int n = snprintf(size, sizeof(size), "%zx\r\n", data.size());
      data.insert(0, size, n);
      data += "\r\n";
    }
    Queue(std::move(data));
    Flush();
  }

  void EndNow() {
    if (closed_ || !streaming_ || final_queued_) return;
    if (chunked_) Queue("0\r\n\r\n");
    final_queued_ = true;
    Flush();
  }

  void OnCloseNow(std::function<void()> callback) {
    if (!in_response_) return;  // The response is complete: it will never fire.
    if (closed_) return callback();
    on_close_ = std::move(callback);
  }

  // The generation of the request being answered: a writer only acts on its own request.
  uint64_t generation() const { return generation_; }

  // Closes the connection; the pending response's OnClose callback runs.
  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    if (!writing_) {  // A write in flight still refers to the queue; it ends with the session.
      queue_.clear();
      queued_bytes_ = 0;
    }
    if (in_response_ && on_close_) {
      auto callback = std::move(on_close_);
      on_close_ = nullptr;
      callback();
    }
  }

 private:
  void AppendHeaders(std::string* head, const std::string& content_type,
                     const HttpHeaders& headers) {
    head->append("Server: moeserve\r\n");
    if (!content_type.empty()) absl::StrAppend(head, "Content-Type: ", content_type, "\r\n");
    for (const auto& [name, value] : headers) absl::StrAppend(head, name, ": ", value, "\r\n");
    absl::StrAppend(head, "Connection: ", keep_alive_ ? "keep-alive" : "close", "\r\n");
  }

  void Queue(std::string bytes) {
    queued_bytes_ += static_cast<int64_t>(bytes.size());
    queue_.push_back(std::move(bytes));
    if (queued_bytes_ > core_->options.max_pending_write_bytes) {
      LOG(WARNING) << "http: client too slow, closing the connection";
      Close();
    }
  }

  // ---- Reading ----
  void DoRead() {
    if (closed_) return;
    in_response_ = false;
    started_ = streaming_ = final_queued_ = false;
    on_close_ = nullptr;
    parser_.emplace();
    parser_->body_limit(static_cast<uint64_t>(core_->options.max_body_bytes));
    parser_->header_limit(static_cast<uint32_t>(core_->options.max_header_bytes));
    stream_.expires_after(ToChrono(core_->options.read_timeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    version_ = parser_->get().version();
    const auto expect = parser_->get()[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      continue_ = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
      net::async_write(stream_, net::buffer(*continue_),
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         self->continue_.reset();
                         if (ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (closed_) return;
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return FailRequest(413, absl::StrCat("the request body is larger than ",
                                           core_->options.max_body_bytes, " bytes"));
    }
    if (ec == http::error::header_limit) {
      return FailRequest(431, "the request header is too large");
    }
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return FailRequest(400, absl::StrCat("malformed HTTP request: ", ec.message()));
    }
    Close();  // End of stream, timeout, reset.
  }

  // Answers an unreadable request and closes the connection.
  void FailRequest(int status, std::string message) {
    keep_alive_ = false;
    in_response_ = true;
    ++generation_;
    stream_.expires_never();
    RespondNow(status, "application/json", ErrorBody(status, message), {});
  }

  void OnRead(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    http::request<http::string_body> message = parser_->release();
    keep_alive_ = message.keep_alive();
    in_response_ = true;
    ++generation_;
    stream_.expires_never();
    StartWatch();

    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.version = static_cast<int>(message.version());
    request.path = request.target.substr(0, request.target.find('?'));
    for (const auto& field : message) {
      request.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                                   std::string(field.value()));
    }
    request.body = std::move(message.body());
    Dispatch(request);
  }

  void Dispatch(const HttpRequest& request) {
    const HttpHandler* handler = nullptr;
    std::string allow;
    for (const Route& route : core_->routes) {
      if (route.path != request.path) continue;
      if (route.method == request.method) handler = &route.handler;
      absl::StrAppend(&allow, allow.empty() ? "" : ", ", route.method);
    }
    if (handler == nullptr && allow.empty()) {
      return RespondNow(404, "application/json",
                        ErrorBody(404, absl::StrCat("no route for ", request.path)), {});
    }
    if (handler == nullptr) {
      return RespondNow(
          405, "application/json",
          ErrorBody(405, absl::StrCat("method ", request.method, " is not allowed on ",
                                      request.path, "; allowed: ", allow)),
          {{"Allow", allow}});
    }
    auto writer = std::make_shared<Writer>(shared_from_this());
    try {
      (*handler)(request, writer);
    } catch (const std::exception& e) {
      LOG(ERROR) << "http: handler for " << request.path << " threw: " << e.what();
      RespondNow(500, "application/json", ErrorBody(500, "internal error"), {});
    }
  }

  // A read kept open while a response is pending: a disconnect ends it with an error.
  void StartWatch() {
    if (closed_ || watching_ || buffer_.size() >= kMaxReadAhead) return;
    watching_ = true;
    if (lingering_) stream_.expires_after(std::chrono::seconds(2));
    stream_.async_read_some(
        buffer_.prepare(4096),
        [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnWatch(ec, n); });
  }

  void OnWatch(beast::error_code ec, size_t n) {
    watching_ = false;
    if (closed_) return;
    if (!ec) buffer_.commit(n);
    if (lingering_) {
      linger_bytes_ += n;
      buffer_.consume(buffer_.size());
      if ((ec && ec != net::error::operation_aborted) || linger_bytes_ > (1 << 20)) return Close();
      return StartWatch();
    }
    if (ec && ec != net::error::operation_aborted) return Close();  // Client gone.
    if (!in_response_) return DoRead();  // The response is done: read the next request.
    if (!ec) StartWatch();
  }

  // ---- Writing ----
  void Flush() {
    if (closed_ || writing_ || queue_.empty()) return;
    writing_ = true;
    // Everything queued goes out in one gathered write (header and body in one segment).
    in_flight_.clear();
    for (const std::string& bytes : queue_) in_flight_.push_back(net::buffer(bytes));
    stream_.expires_after(ToChrono(core_->options.write_timeout));
    net::async_write(stream_, in_flight_,
                     [self = shared_from_this(), n = queue_.size()](beast::error_code ec, size_t) {
                       self->OnWrite(ec, n);
                     });
  }

  void OnWrite(beast::error_code ec, size_t written) {
    writing_ = false;
    if (closed_) return;
    if (ec) return Close();
    for (size_t i = 0; i < written; ++i) {
      queued_bytes_ -= static_cast<int64_t>(queue_.front().size());
      queue_.pop_front();
    }
    if (!queue_.empty()) return Flush();
    stream_.expires_never();
    if (final_queued_) ResponseDone();
  }

  void ResponseDone() {
    in_response_ = false;
    on_close_ = nullptr;
    if (!keep_alive_) {
      // Lingering close: stop sending, then read (and drop) what the client still sends until
      // it closes or a short timeout, so that closing with unread data does not reset the
      // connection before the client has read the response.
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      lingering_ = true;
      buffer_.consume(buffer_.size());
      if (watching_) {
        stream_.socket().cancel(ec);  // Restarted with the linger timeout.
      } else {
        StartWatch();
      }
      return;
    }
    if (watching_) {
      beast::error_code ec;
      stream_.socket().cancel(ec);  // OnWatch reads the next request.
      return;
    }
    DoRead();
  }

  // The handler's view of this session: posts to the strand, holds the session alive.
  class Writer : public ResponseWriter {
   public:
    explicit Writer(std::shared_ptr<Session> session)
        : session_(std::move(session)), generation_(session_->generation()) {}
    void Respond(int status, std::string content_type, std::string body,
                 HttpHeaders headers) override {
      Post([status, ct = std::move(content_type), b = std::move(body),
            h = std::move(headers)](Session& s) mutable {
        s.RespondNow(status, std::move(ct), std::move(b), std::move(h));
      });
    }
    void StartStream(int status, std::string content_type, HttpHeaders headers) override {
      Post([status, ct = std::move(content_type), h = std::move(headers)](Session& s) mutable {
        s.StartStreamNow(status, std::move(ct), std::move(h));
      });
    }
    void Write(std::string data) override {
      Post([d = std::move(data)](Session& s) mutable { s.WriteNow(std::move(d)); });
    }
    void End() override {
      Post([](Session& s) { s.EndNow(); });
    }
    void OnClose(std::function<void()> callback) override {
      if (session_->core_->stopped.load()) return callback();  // Every connection is closed.
      Post([c = std::move(callback)](Session& s) mutable { s.OnCloseNow(std::move(c)); });
    }

   private:
    template <typename F>
    void Post(F f) {
      if (session_->core_->stopped.load()) return;  // The io threads are gone.
      net::post(session_->executor(),
                [s = session_, gen = generation_, f = std::move(f)]() mutable {
                  if (s->generation() == gen) f(*s);
                });
    }
    const std::shared_ptr<Session> session_;
    const uint64_t generation_;
  };

  const std::shared_ptr<Core> core_;  // First: outlives the socket.
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<std::string> continue_;

  int version_ = 11;
  bool keep_alive_ = true;
  bool in_response_ = false;  // A request has been read and its response is not complete.
  bool started_ = false;      // The response's header is queued.
  bool streaming_ = false;
  bool chunked_ = false;
  bool final_queued_ = false;  // The response's last bytes are queued.
  bool writing_ = false;
  bool watching_ = false;
  bool closed_ = false;
  bool lingering_ = false;
  size_t linger_bytes_ = 0;
  uint64_t generation_ = 0;
  std::function<void()> on_close_;
  std::deque<std::string> queue_;  // Deque: elements keep their address while written.
  std::vector<net::const_buffer> in_flight_;
  int64_t queued_bytes_ = 0;
};

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions options)
      : core_(std::make_shared<Core>(std::move(options))),
        acceptor_(net::make_strand(core_->ioc)) {}

  void Handle(std::string method, std::string path, HttpHandler handler) {
    core_->routes.push_back({std::move(method), std::move(path), std::move(handler)});
  }

  absl::Status Start() {
    if (started_) return absl::FailedPreconditionError("http: already started");
    const HttpServerOptions& o = core_->options;
    if (absl::Status valid = o.Validate(); !valid.ok()) return valid;
    beast::error_code ec;
    const tcp::endpoint endpoint(net::ip::make_address(o.address, ec), o.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("http: cannot listen on ", o.address, ":", o.port, ": ", ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    started_ = true;
    work_.emplace(core_->ioc.get_executor());
    DoAccept();
    for (int i = 0; i < o.num_threads; ++i) {
      threads_.emplace_back([this] {
        while (true) {
          try {
            core_->ioc.run();
            return;
          } catch (const std::exception& e) {  // Never let an exception end an io thread.
            LOG(ERROR) << "http: io thread caught: " << e.what();
          }
        }
      });
    }
    return absl::OkStatus();
  }

  void Stop() {
    if (!started_ || stopping_) return;
    stopping_ = true;
    // No new connections, then close every connection on its own strand (their OnClose
    // callbacks run there), then stop the io threads.
    absl::Notification acceptor_closed;
    net::post(acceptor_.get_executor(), [this, &acceptor_closed] {
      beast::error_code ec;
      acceptor_.close(ec);
      acceptor_closed.Notify();
    });
    acceptor_closed.WaitForNotification();
    const auto live = registry_.Live();
    absl::BlockingCounter closed(static_cast<int>(live.size()));
    for (const auto& s : live) {
      net::post(s->executor(), [s, &closed] {
        s->Close();
        closed.DecrementCount();
      });
    }
    closed.Wait();
    core_->stopped = true;  // Writers stop posting.
    work_.reset();
    core_->ioc.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    // Run what was posted meanwhile (completions of the closed sockets), here.
    core_->ioc.restart();
    core_->ioc.poll();
  }

  uint16_t port() const { return port_; }

 private:
  void DoAccept() {
    acceptor_.async_accept(net::make_strand(core_->ioc),
                           [this](beast::error_code ec, tcp::socket socket) {
                             if (ec == net::error::operation_aborted || !acceptor_.is_open()) {
                               return;
                             }
                             if (!ec) {
                               auto session = std::make_shared<Session>(core_, std::move(socket));
                               registry_.Add(session);
                               if (core_->connections.load() > core_->options.max_connections) {
                                 session->Refuse();
                               } else {
                                 session->Start();
                               }
                             }
                             DoAccept();
                           });
  }

  std::shared_ptr<Core> core_;
  tcp::acceptor acceptor_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  Registry registry_;
  uint16_t port_ = 0;
  bool started_ = false;
  bool stopping_ = false;
};

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string method, std::string path, HttpHandler handler) {
  impl_->Handle(std::move(method), std::move(path), std::move(handler));
}

absl::Status HttpServer::Start() { return impl_->Start(); }

void HttpServer::Stop() { impl_->Stop(); }

uint16_t HttpServer::port() const { return impl_->port(); }

}  // namespace moeserve::router::api
