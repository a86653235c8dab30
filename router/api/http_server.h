// HttpServer: a small asynchronous HTTP/1.1 server (Boost.Beast over Asio) for the router's
// OpenAI-compatible API.
//
// A pool of io threads runs every connection; each connection is serialised on its own strand.
// Keep-alive, "Expect: 100-continue", request size limits (413 body, 431 header), a read timeout
// (whole request, including the keep-alive wait for it) and a write timeout. A response is
// either whole (Respond) or streamed with chunked transfer encoding (StartStream/Write/End),
// which is what server-sent events need. Requests on one connection are answered in order; the
// next one is read only after the current response has been written.
//
// While a handler's response is pending, the connection keeps a read open, so that a client
// that goes away is noticed at once: the writer's OnClose callback runs (the router aborts the
// request on its worker). Unknown paths get 404, known paths with another method 405 (with an
// Allow header), malformed requests 400; every error body is an OpenAI error object.
//
// Handlers run on io threads and must not block (GUIDE §4.9): they answer at once or keep the
// ResponseWriter and answer later from any thread.
//
// Thread-safety: Handle() before Start(); Start/Stop from one thread; ResponseWriter methods
// from any thread (they post to the connection's strand and never block).
#ifndef MOESERVE_ROUTER_API_HTTP_SERVER_H_
#define MOESERVE_ROUTER_API_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace moeserve::router::api {

struct HttpServerOptions {
  std::string address = "0.0.0.0";      // Address to listen on (IPv4 or IPv6 literal).
  uint16_t port = 8000;                 // 0: an ephemeral port (see HttpServer::port()).
  int32_t num_threads = 2;              // io threads (>= 1).
  int64_t max_body_bytes = 8 << 20;     // Larger request bodies get 413 (>= 1).
  int64_t max_header_bytes = 16 << 10;  // Larger request headers get 431 (>= 256).
  // Time allowed to receive one whole request, counting from when the connection became idle.
  absl::Duration read_timeout = absl::Seconds(60);
  // Time allowed for one write to the client (a slow reader is disconnected).
  absl::Duration write_timeout = absl::Seconds(60);
  // Response bytes queued for a slow client, at most; beyond, it is disconnected (>= 1).
  int64_t max_pending_write_bytes = 64 << 20;
  // Connections at once, at most; more are answered 503 and closed (>= 1).
  int32_t max_connections = 4096;

  absl::Status Validate() const;
};

struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string target;                                        // As sent: "/v1/models?x=1".
  std::string path;                                          // The target without its query.
  std::vector<std::pair<std::string, std::string>> headers;  // Names lower-case.
  std::string body;
  int version = 11;  // 10 or 11.

  // The first value of header `name` (lower-case), nullopt when absent.
  std::optional<std::string_view> header(std::string_view name) const;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The answer to one request. Every method is thread-safe, non-blocking, and a no-op once the
// connection is closed or the response is complete.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;

  // A whole response with Content-Length.
  virtual void Respond(int status, std::string content_type, std::string body,
                       HttpHeaders headers = {}) = 0;
  // Starts a streamed response (chunked transfer encoding); follow with Write()s and End().
  virtual void StartStream(int status, std::string content_type, HttpHeaders headers = {}) = 0;
  // One chunk of a streamed response (empty data is skipped).
  virtual void Write(std::string data) = 0;
  // Ends a streamed response.
  virtual void End() = 0;
  // `callback` runs once, on an io thread, if the connection closes before the response is
  // complete (client gone, timeout, server stopping); at once if it is closed already.
  virtual void OnClose(std::function<void()> callback) = 0;
};

using HttpHandler =
    std::function<void(const HttpRequest& request, std::shared_ptr<ResponseWriter> writer)>;

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  // Stops the server.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes `method` requests for exactly `path` to `handler`. Before Start().
  void Handle(std::string method, std::string path, HttpHandler handler);

  // Validates the options, binds, listens and starts the io threads. InvalidArgument on bad
  // options, Unavailable when the address cannot be bound.
  absl::Status Start();
  // Stops accepting, closes every connection (their OnClose callbacks run) and joins the io
  // threads. Idempotent.
  void Stop();

  // The bound port (useful with port 0); 0 before Start().
  uint16_t port() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moeserve::router::api

#endif  // MOESERVE_ROUTER_API_HTTP_SERVER_H_
