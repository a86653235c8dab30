// A blocking HTTP/1.1 client for the API tests (Boost.Beast), one connection, with a receive
// timeout so that a broken server fails a test instead of hanging it.
#ifndef MOESERVE_TESTS_ROUTER_API_HTTP_TEST_CLIENT_H_
#define MOESERVE_TESTS_ROUTER_API_HTTP_TEST_CLIENT_H_

#include <sys/socket.h>
#include <sys/time.h>

#include <string>
#include <vector>

#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "nlohmann/json.hpp"

namespace moeserve::router::api::testing {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Response = http::response<http::string_body>;

class TestClient {
 public:
  explicit TestClient(uint16_t port, int timeout_seconds = 20) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    timeval tv{timeout_seconds, 0};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }

  // Sends one request and reads its whole response (error code in *ec when given).
  Response Request(http::verb verb, const std::string& target, const std::string& body = "",
                   beast::error_code* ec = nullptr, bool keep_alive = true) {
    SendRequest(verb, target, body, keep_alive);
    return Read(ec);
  }
  Response Get(const std::string& target) { return Request(http::verb::get, target); }
  Response Post(const std::string& target, const std::string& body) {
    return Request(http::verb::post, target, body);
  }
  Response PostJson(const std::string& target, const nlohmann::json& body) {
    return Request(http::verb::post, target, body.dump());
  }

  void SendRequest(http::verb verb, const std::string& target, const std::string& body,
                   bool keep_alive = true) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(keep_alive);
    if (!body.empty() || verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    http::write(socket_, req);
  }

  void SendRaw(const std::string& bytes) { net::write(socket_, net::buffer(bytes)); }

  Response Read(beast::error_code* ec = nullptr) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    beast::error_code local;
    http::read(socket_, buffer_, parser, local);
    if (ec != nullptr) *ec = local;
    return parser.release();
  }

  // Reads a response header only (for streams the test reads on with ReadSome).
  http::response_parser<http::string_body>& ReadHeader() {
    parser_.emplace();
    http::read_header(socket_, buffer_, *parser_);
    return *parser_;
  }

  // True when the server closed the connection (read sees EOF or reset).
  bool ServerClosed() {
    char c;
    beast::error_code ec;
    if (buffer_.size() > 0) return false;
    socket_.read_some(net::buffer(&c, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

  tcp::socket& socket() { return socket_; }
  void Close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
};

// The `data:` payloads of an SSE body, in order.
inline std::vector<std::string> SseEvents(const std::string& body) {
  std::vector<std::string> events;
  size_t at = 0;
  while (at < body.size()) {
    const size_t end = body.find("\n\n", at);
    if (end == std::string::npos) break;
    std::string event = body.substr(at, end - at);
    if (event.rfind("data: ", 0) == 0) events.push_back(event.substr(6));
    at = end + 2;
  }
  return events;
}

}  // namespace moeserve::router::api::testing

#endif  // MOESERVE_TESTS_ROUTER_API_HTTP_TEST_CLIENT_H_
