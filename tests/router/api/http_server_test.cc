#include "router/api/http_server.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/router/api/http_test_client.h"

namespace moeserve::router::api {
namespace {

using testing::TestClient;
using json = nlohmann::json;

HttpServerOptions Loopback() {
  HttpServerOptions o;
  o.address = "127.0.0.1";
  o.port = 0;
  return o;
}

void ExpectOpenAiError(const testing::Response& r, int status) {
  EXPECT_EQ(r.result_int(), status);
  const json body = json::parse(r.body(), nullptr, false);
  ASSERT_TRUE(body.is_object()) << r.body();
  ASSERT_TRUE(body.contains("error")) << r.body();
  EXPECT_TRUE(body["error"]["message"].is_string());
  EXPECT_TRUE(body["error"]["type"].is_string());
  EXPECT_TRUE(body["error"].contains("param"));
  EXPECT_TRUE(body["error"]["code"].is_null());
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = Loopback()) {
    server_ = std::make_unique<HttpServer>(options);
    server_->Handle("GET", "/hello", [](const HttpRequest& r, std::shared_ptr<ResponseWriter> w) {
      w->Respond(200, "text/plain", "hello " + std::string(r.target));
    });
    server_->Handle("POST", "/echo", [](const HttpRequest& r, std::shared_ptr<ResponseWriter> w) {
      w->Respond(200, "application/octet-stream", r.body, {{"X-Test", "1"}});
    });
    server_->Handle("GET", "/later", [](const HttpRequest&, std::shared_ptr<ResponseWriter> w) {
      std::thread([w] {
        absl::SleepFor(absl::Milliseconds(20));
        w->Respond(200, "text/plain", "later");
        w->Respond(500, "text/plain", "ignored: already answered");
      }).detach();
    });
    server_->Handle("GET", "/stream", [](const HttpRequest&, std::shared_ptr<ResponseWriter> w) {
      std::thread([w] {
        w->StartStream(200, "text/event-stream");
        for (int i = 0; i < 3; ++i) {
          absl::SleepFor(absl::Milliseconds(5));
          w->Write("data: " + std::to_string(i) + "\n\n");
        }
        w->End();
      }).detach();
    });
    server_->Handle("GET", "/forever",
                    [this](const HttpRequest&, std::shared_ptr<ResponseWriter> w) {
                      w->StartStream(200, "text/event-stream");
                      w->Write("data: first\n\n");
                      w->OnClose([this, w] { closed_.Notify(); });
                      held_ = w;
                    });
    server_->Handle("GET", "/throw", [](const HttpRequest&, std::shared_ptr<ResponseWriter>) {
      throw std::runtime_error("handler bug");
    });
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_NE(server_->port(), 0);
  }

  std::unique_ptr<HttpServer> server_;
  absl::Notification closed_;
  std::shared_ptr<ResponseWriter> held_;
};

TEST_F(HttpServerTest, OptionsValidate) {
  EXPECT_TRUE(HttpServerOptions{}.Validate().ok());
  HttpServerOptions o;
  o.num_threads = 0;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.address = "not an address";
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.read_timeout = absl::ZeroDuration();
  EXPECT_FALSE(o.Validate().ok());
  HttpServer bad(o);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.Start()));
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  TestClient client(server_->port());
  for (int i = 0; i < 5; ++i) {
    auto r = client.Get("/hello?i=" + std::to_string(i));
    EXPECT_EQ(r.result_int(), 200);
    EXPECT_EQ(r.body(), "hello /hello?i=" + std::to_string(i));
    EXPECT_TRUE(r.keep_alive());
    auto e = client.Post("/echo", "body" + std::to_string(i));
    EXPECT_EQ(e.body(), "body" + std::to_string(i));
    EXPECT_EQ(e["X-Test"], "1");
    auto l = client.Get("/later");
    EXPECT_EQ(l.body(), "later");
  }
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  TestClient client(server_->port());
  client.SendRaw(
      "GET /later HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(client.Read().body(), "later");
  EXPECT_EQ(client.Read().body(), "hello /hello");
}

TEST_F(HttpServerTest, UnknownRouteAndWrongMethod) {
  StartServer();
  TestClient client(server_->port());
  auto r = client.Get("/nope");
  ExpectOpenAiError(r, 404);
  r = client.Post("/hello", "{}");
  ExpectOpenAiError(r, 405);
  EXPECT_EQ(r[boost::beast::http::field::allow], "GET");
  r = client.Get("/hello");  // The connection is still usable.
  EXPECT_EQ(r.result_int(), 200);
}

TEST_F(HttpServerTest, BodyTooLargeIs413) {
  HttpServerOptions o = Loopback();
  o.max_body_bytes = 1024;
  StartServer(o);
  TestClient client(server_->port());
  auto r = client.Post("/echo", std::string(2048, 'x'));
  ExpectOpenAiError(r, 413);
  EXPECT_FALSE(r.keep_alive());
  TestClient chunked(server_->port());  // Without Content-Length: found while reading.
  chunked.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
                  std::string(2048, 'y') + "\r\n0\r\n\r\n");
  ExpectOpenAiError(chunked.Read(), 413);
}

TEST_F(HttpServerTest, HeaderTooLargeIs431) {
  HttpServerOptions o = Loopback();
  o.max_header_bytes = 1024;
  StartServer(o);
  TestClient client(server_->port());
  client.SendRaw("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
  ExpectOpenAiError(client.Read(), 431);
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  StartServer();
  TestClient client(server_->port());
  client.SendRaw("THIS IS NOT HTTP\r\n\r\n");
  ExpectOpenAiError(client.Read(), 400);
  EXPECT_TRUE(client.ServerClosed());
}

TEST_F(HttpServerTest, ExpectContinue) {
  StartServer();
  TestClient client(server_->port());
  client.SendRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto interim = client.Read();
  EXPECT_EQ(interim.result_int(), 100);
  client.SendRaw("hello");
  auto r = client.Read();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "hello");
}

TEST_F(HttpServerTest, StreamsChunks) {
  StartServer();
  TestClient client(server_->port());
  for (int round = 0; round < 2; ++round) {
    auto r = client.Get("/stream");
    EXPECT_EQ(r.result_int(), 200);
    EXPECT_EQ(r[boost::beast::http::field::content_type], "text/event-stream");
    EXPECT_TRUE(r.chunked());
    EXPECT_EQ(r.body(), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  }
}

TEST_F(HttpServerTest, Http10StreamEndsWithClose) {
  StartServer();
  TestClient client(server_->port());
  client.SendRaw("GET /stream HTTP/1.0\r\n\r\n");
  auto r = client.Read();
  EXPECT_EQ(r.body(), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  EXPECT_TRUE(client.ServerClosed());
}

TEST_F(HttpServerTest, ClientDisconnectRunsOnClose) {
  StartServer();
  {
    TestClient client(server_->port());
    client.SendRequest(boost::beast::http::verb::get, "/forever", "");
    auto& header = client.ReadHeader();
    EXPECT_EQ(header.get().result_int(), 200);
    client.Close();
  }
  EXPECT_TRUE(closed_.WaitForNotificationWithTimeout(absl::Seconds(10)));
  held_->Write("data: nobody listens\n\n");  // Harmless.
  held_->End();
  std::atomic<bool> late{false};
  held_->OnClose([&late] { late = true; });  // Already closed: runs at once (on an io thread).
  for (int i = 0; i < 1000 && !late; ++i) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_TRUE(late);
}

TEST_F(HttpServerTest, StopClosesStreamsAndRunsOnClose) {
  StartServer();
  TestClient client(server_->port());
  client.SendRequest(boost::beast::http::verb::get, "/forever", "");
  client.ReadHeader();
  for (int i = 0; i < 1000 && held_ == nullptr; ++i) absl::SleepFor(absl::Milliseconds(1));
  server_->Stop();
  EXPECT_TRUE(closed_.HasBeenNotified());
  held_->Write("after stop");  // No crash, nothing sent.
  server_.reset();
  held_.reset();
}

TEST_F(HttpServerTest, HandlerExceptionIs500) {
  StartServer();
  TestClient client(server_->port());
  ExpectOpenAiError(client.Get("/throw"), 500);
  EXPECT_EQ(client.Get("/hello").result_int(), 200);
}

TEST_F(HttpServerTest, IdleConnectionTimesOut) {
  HttpServerOptions o = Loopback();
  o.read_timeout = absl::Milliseconds(200);
  StartServer(o);
  TestClient client(server_->port());
  EXPECT_EQ(client.Get("/hello").result_int(), 200);
  const absl::Time start = absl::Now();
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  StartServer();
  TestClient client(server_->port());
  auto r = client.Request(boost::beast::http::verb::get, "/hello", "", nullptr, false);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(client.ServerClosed());
}

TEST_F(HttpServerTest, PortInUseIsUnavailable) {
  StartServer();
  HttpServerOptions o = Loopback();
  o.port = server_->port();
  HttpServer second(o);
  // SO_REUSEADDR does not allow two listeners on one port.
  EXPECT_TRUE(absl::IsUnavailable(second.Start()));
}

}  // namespace
}  // namespace moeserve::router::api
