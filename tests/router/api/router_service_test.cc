// The router end to end over HTTP: a real server on a loopback port, the real Qwen3 tokenizer,
// the real scheduler, and fake workers with deterministic output.
#include "router/api/router_service.h"

#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/router/scheduler/fake_worker_client.h"
#include "tests/router/api/http_test_client.h"

namespace moeserve::router::api {
namespace {

using json = nlohmann::json;
using testing::SseEvents;
using testing::TestClient;

const tokenizer::Tokenizer* Qwen() {
  static const tokenizer::Tokenizer* t = [] {
    auto loaded = tokenizer::Tokenizer::FromFile(std::string(MOESERVE_DATA_CACHE) +
                                                 "/qwen3-tokenizer/tokenizer.json");
    return loaded.ok() ? loaded->release() : nullptr;
  }();
  return t;
}

template <typename Pred>
bool Eventually(Pred pred, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return pred();
}

constexpr char kModel[] = "Qwen/Qwen3-30B-A3B";

class RouterServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Qwen() == nullptr) GTEST_SKIP() << "Qwen3 tokenizer not in " << MOESERVE_DATA_CACHE;
  }

  void Start(SchedulerOptions scheduler_options = {}, HttpServerOptions http = {},
             int num_workers = 2) {
    std::vector<std::shared_ptr<WorkerClient>> clients;
    for (int i = 0; i < num_workers; ++i) {
      FakeWorkerOptions o;
      o.name = "fake-" + std::to_string(i);
      workers_.push_back(std::make_shared<FakeWorkerClient>(o));
      clients.push_back(workers_.back());
    }
    scheduler_ = std::make_unique<Scheduler>(clients, scheduler_options);
    RouterServiceOptions options;
    options.model_id = kModel;
    options.created = 1700000000;
    options.max_model_len = 4096;
    service_ = std::make_unique<RouterService>(
        options, Qwen(), scheduler_.get(), [s = scheduler_.get()] { return s->AnyWorkerReady(); });
    http.address = "127.0.0.1";
    http.port = 0;
    server_ = std::make_unique<HttpServer>(http);
    service_->Register(server_.get());
    ASSERT_TRUE(server_->Start().ok());
  }

  void TearDown() override {
    if (server_) server_->Stop();
    scheduler_.reset();
  }

  // No request is left anywhere.
  void ExpectDrained() {
    EXPECT_TRUE(Eventually([&] {
      const auto s = scheduler_->stats();
      if (s.waiting != 0 || s.inflight != 0) return false;
      for (const auto& w : workers_) {
        if (w->active() != 0) return false;
      }
      return true;
    }));
  }

  std::string ExpectedText(const std::vector<int32_t>& prompt, int n) {
    return *Qwen()->Decode(workers_[0]->ExpectedTokens(prompt, n), /*skip_special=*/true);
  }

  uint16_t port() const { return server_->port(); }

  std::vector<std::shared_ptr<FakeWorkerClient>> workers_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<RouterService> service_;
  std::unique_ptr<HttpServer> server_;
};

json Body(const testing::Response& r) {
  json j = json::parse(r.body(), nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.body();
  return j;
}

void ExpectError(const testing::Response& r, int status, const char* param = nullptr) {
  EXPECT_EQ(r.result_int(), status) << r.body();
  json j = Body(r);
  ASSERT_TRUE(j.contains("error")) << r.body();
  EXPECT_TRUE(j["error"]["message"].is_string());
  EXPECT_TRUE(j["error"]["type"].is_string());
  EXPECT_TRUE(j["error"]["code"].is_null());
  if (param != nullptr) {
    EXPECT_EQ(j["error"]["param"], param) << r.body();
  }
  EXPECT_EQ(r[boost::beast::http::field::content_type], "application/json");
}

TEST_F(RouterServiceTest, HealthFollowsReadiness) {
  Start();
  TestClient client(port());
  EXPECT_EQ(client.Get("/health").result_int(), 200);
  workers_[0]->SetReady(false);
  EXPECT_EQ(client.Get("/health").result_int(), 200);
  workers_[1]->SetReady(false);
  ExpectError(client.Get("/health"), 503);
}

TEST_F(RouterServiceTest, Models) {
  Start();
  TestClient client(port());
  auto r = client.Get("/v1/models");
  EXPECT_EQ(r.result_int(), 200);
  json j = Body(r);
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["data"][0]["id"], kModel);
  EXPECT_EQ(j["data"][0]["object"], "model");
  EXPECT_EQ(j["data"][0]["created"], 1700000000);
  EXPECT_EQ(j["data"][0]["owned_by"], "moeserve");
}

TEST_F(RouterServiceTest, CompletionFromText) {
  Start();
  TestClient client(port());
  const std::string prompt = "The capital of France is";
  auto r = client.PostJson("/v1/completions",
                           {{"model", kModel}, {"prompt", prompt}, {"max_tokens", 5}});
  ASSERT_EQ(r.result_int(), 200) << r.body();
  json j = Body(r);
  const std::vector<int32_t> ids = Qwen()->Encode(prompt);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], kModel);
  EXPECT_EQ(j["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_TRUE(j["created"].is_number_integer());
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][0]["text"], ExpectedText(ids, 5));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["usage"], json({{"prompt_tokens", ids.size()},
                              {"completion_tokens", 5},
                              {"total_tokens", ids.size() + 5}}));
  // Default max_tokens is 16; no model is fine.
  r = client.PostJson("/v1/completions", {{"prompt", prompt}});
  EXPECT_EQ(Body(r)["usage"]["completion_tokens"], 16);
  EXPECT_EQ(Body(r)["choices"][0]["text"], ExpectedText(ids, 16));
  ExpectDrained();
}

TEST_F(RouterServiceTest, CompletionFromTokenIdsInEveryShape) {
  Start();
  TestClient client(port());
  const std::vector<int32_t> ids = {785, 6722, 315, 9625, 374};
  for (const json& prompt : {json(ids), json::array({ids}), json::array({"hello there"})}) {
    auto r = client.PostJson("/v1/completions", {{"prompt", prompt}, {"max_tokens", 3}});
    ASSERT_EQ(r.result_int(), 200) << r.body();
    const std::vector<int32_t> expected_prompt =
        prompt[0].is_string() ? Qwen()->Encode("hello there") : ids;
    EXPECT_EQ(Body(r)["choices"][0]["text"], ExpectedText(expected_prompt, 3));
    EXPECT_EQ(Body(r)["usage"]["prompt_tokens"], expected_prompt.size());
  }
}

TEST_F(RouterServiceTest, Logprobs) {
  Start();
  TestClient client(port());
  const std::vector<int32_t> ids = {1, 2, 3, 4};
  auto r =
      client.PostJson("/v1/completions", {{"prompt", ids}, {"max_tokens", 4}, {"logprobs", 2}});
  ASSERT_EQ(r.result_int(), 200) << r.body();
  json lp = Body(r)["choices"][0]["logprobs"];
  const std::vector<int32_t> out = workers_[0]->ExpectedTokens(ids, 4);
  ASSERT_EQ(lp["tokens"].size(), 4u);
  ASSERT_EQ(lp["token_logprobs"].size(), 4u);
  ASSERT_EQ(lp["top_logprobs"].size(), 4u);
  ASSERT_EQ(lp["text_offset"].size(), 4u);
  std::string text;
  for (int k = 0; k < 4; ++k) {
    const std::string token = *Qwen()->Decode({&out[k], 1});
    EXPECT_EQ(lp["tokens"][k], token);
    EXPECT_DOUBLE_EQ(lp["token_logprobs"][k].get<double>(),
                     workers_[0]->LogprobAt(ids, k, 2).logprob);
    EXPECT_EQ(lp["text_offset"][k], text.size());  // ASCII here: bytes are code points.
    EXPECT_TRUE(lp["top_logprobs"][k].contains(token));
    EXPECT_LE(lp["top_logprobs"][k].size(), 2u);
    text += token;
  }
  EXPECT_EQ(Body(r)["choices"][0]["text"], text);

  r = client.PostJson(
      "/v1/completions",
      {{"prompt", ids}, {"max_tokens", 2}, {"logprobs", 0}, {"return_tokens_as_token_ids", true}});
  lp = Body(r)["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"][0], "token_id:" + std::to_string(out[0]));
  EXPECT_EQ(lp["top_logprobs"][0].size(), 1u);
  EXPECT_TRUE(lp["top_logprobs"][0].contains("token_id:" + std::to_string(out[0])));
}

TEST_F(RouterServiceTest, StopTokenEndsWithStop) {
  Start();
  TestClient client(port());
  const std::vector<int32_t> ids = {10, 20, 30};
  const std::vector<int32_t> out = workers_[0]->ExpectedTokens(ids, 10);
  // The first position whose token did not occur before it.
  size_t at = 2;
  while (std::find(out.begin(), out.begin() + at, out[at]) != out.begin() + at) ++at;
  auto r = client.PostJson("/v1/completions",
                           {{"prompt", ids}, {"max_tokens", 10}, {"stop_token_ids", {out[at]}}});
  ASSERT_EQ(r.result_int(), 200) << r.body();
  json j = Body(r);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["choices"][0]["stop_reason"], out[at]);
  EXPECT_EQ(j["usage"]["completion_tokens"], at + 1);  // The stop token counts...
  EXPECT_EQ(j["choices"][0]["text"], ExpectedText(ids, static_cast<int>(at)));  // ...not in text.
}

TEST_F(RouterServiceTest, StreamingSse) {
  Start();
  TestClient client(port());
  const std::vector<int32_t> ids = {7, 8, 9};
  auto r = client.PostJson("/v1/completions", {{"prompt", ids},
                                               {"max_tokens", 6},
                                               {"stream", true},
                                               {"stream_options", {{"include_usage", true}}},
                                               {"logprobs", 1}});
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[boost::beast::http::field::content_type], "text/event-stream");
  EXPECT_TRUE(r.chunked());
  const auto events = SseEvents(r.body());
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  std::string id;
  int finishes = 0;
  size_t tokens = 0;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    json chunk = json::parse(events[i]);
    EXPECT_EQ(chunk["object"], "text_completion");
    if (id.empty()) id = chunk["id"];
    EXPECT_EQ(chunk["id"], id);  // One id for the stream.
    text += chunk["choices"][0]["text"].get<std::string>();
    tokens += chunk["choices"][0]["logprobs"]["tokens"].size();
    if (!chunk["choices"][0]["finish_reason"].is_null()) {
      ++finishes;
      EXPECT_EQ(chunk["choices"][0]["finish_reason"], "length");
      EXPECT_EQ(i + 3, events.size());  // The last choice chunk.
    }
  }
  EXPECT_EQ(finishes, 1);
  EXPECT_EQ(tokens, 6u);
  EXPECT_EQ(text, ExpectedText(ids, 6));
  json usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 6);
  EXPECT_EQ(usage["usage"]["prompt_tokens"], 3);
  // The connection is reusable after a stream.
  EXPECT_EQ(client.Get("/health").result_int(), 200);
}

TEST_F(RouterServiceTest, BadRequestsGetOpenAiErrors) {
  HttpServerOptions http;
  http.max_body_bytes = 64 << 10;
  Start({}, http);
  TestClient client(port());
  ExpectError(client.Post("/v1/completions", "{not json"), 400);
  ExpectError(client.Post("/v1/completions", "{\"prompt\": \"bad \xff\xfe utf8\"}"), 400);
  ExpectError(client.PostJson("/v1/completions", {{"prompt", "x"}, {"max_tokens", "ten"}}), 400,
              "max_tokens");
  ExpectError(client.PostJson("/v1/completions", {{"prompt", "x"}, {"max_tokens", 1e300}}), 400,
              "max_tokens");
  ExpectError(client.PostJson("/v1/completions", {{"prompt", "x"}, {"temperature", -1}}), 400,
              "temperature");
  ExpectError(client.PostJson("/v1/completions", {{"prompt", {"a", "b"}}}), 400, "prompt");
  ExpectError(client.PostJson("/v1/completions", {{"prompt", "x"}, {"echo", true}}), 400, "echo");
  ExpectError(client.PostJson("/v1/completions", {{"prompt", "x"}, {"n", 3}}), 400, "n");
  ExpectError(client.PostJson("/v1/completions", {{"prompt", ""}}), 400, "prompt");
  ExpectError(client.PostJson("/v1/completions", {{"prompt", {1, 99999999}}}), 400, "prompt");
  ExpectError(client.PostJson("/v1/completions", {{"prompt", "x"}, {"stop_token_ids", {200000}}}),
              400, "stop_token_ids");
  ExpectError(client.PostJson("/v1/completions",
                              {{"prompt", std::vector<int32_t>(4000, 5)}, {"max_tokens", 200}}),
              400, "max_tokens");
  ExpectError(client.PostJson("/v1/completions", {{"model", "gpt-4"}, {"prompt", "x"}}), 404,
              "model");
  ExpectError(client.Get("/v1/nothing"), 404);
  ExpectError(client.Get("/v1/completions"), 405);
  EXPECT_EQ(client.Get("/health").result_int(), 200);  // Still the same connection.
  TestClient big(port());
  ExpectError(big.Post("/v1/completions", std::string(100 << 10, ' ')), 413);
  ExpectDrained();
}

TEST_F(RouterServiceTest, QueueFullIs429AndNoWorkerIs503) {
  SchedulerOptions options;
  options.max_inflight_per_worker = 1;
  options.max_waiting = 1;
  Start(options, {}, 1);
  workers_[0]->SetPaused(true);
  TestClient running(port()), waiting(port()), rejected(port());
  running.SendRequest(boost::beast::http::verb::post, "/v1/completions",
                      json{{"prompt", "a"}, {"max_tokens", 2}}.dump());
  ASSERT_TRUE(Eventually([&] { return scheduler_->stats().inflight == 1; }));
  waiting.SendRequest(boost::beast::http::verb::post, "/v1/completions",
                      json{{"prompt", "b"}, {"max_tokens", 2}}.dump());
  ASSERT_TRUE(Eventually([&] { return scheduler_->stats().waiting == 1; }));
  ExpectError(rejected.PostJson("/v1/completions", {{"prompt", "c"}}), 429);
  workers_[0]->SetPaused(false);
  EXPECT_EQ(running.Read().result_int(), 200);
  EXPECT_EQ(waiting.Read().result_int(), 200);
  workers_[0]->SetReady(false);
  ExpectError(rejected.PostJson("/v1/completions", {{"prompt", "c"}}), 503);
  ExpectError(rejected.PostJson("/v1/completions", {{"prompt", "c"}, {"stream", true}}), 503);
  ExpectDrained();
}

TEST_F(RouterServiceTest, WorkerFailureIsReported) {
  Start({}, {}, 1);
  workers_[0]->SetPaused(true);
  TestClient plain(port()), streamed(port());
  plain.SendRequest(boost::beast::http::verb::post, "/v1/completions",
                    json{{"prompt", "a"}, {"max_tokens", 5}}.dump());
  streamed.SendRequest(boost::beast::http::verb::post, "/v1/completions",
                       json{{"prompt", "b"}, {"max_tokens", 5}, {"stream", true}}.dump());
  ASSERT_TRUE(Eventually([&] { return workers_[0]->active() == 2; }));
  workers_[0]->FailRunning(absl::UnavailableError("worker lost"));
  ExpectError(plain.Read(), 503);
  auto r = streamed.Read();
  EXPECT_EQ(r.result_int(), 200);
  const auto events = SseEvents(r.body());
  ASSERT_EQ(events.size(), 2u) << r.body();
  EXPECT_EQ(json::parse(events[0])["error"]["message"], "worker lost");
  EXPECT_EQ(events[1], "[DONE]");
  ExpectDrained();
}

TEST_F(RouterServiceTest, ClientDisconnectAbortsOnTheWorker) {
  Start({}, {}, 1);
  workers_[0]->SetPaused(true);
  for (bool stream : {false, true}) {
    TestClient client(port());
    client.SendRequest(
        boost::beast::http::verb::post, "/v1/completions",
        json{{"prompt", "a long story"}, {"max_tokens", 1000}, {"stream", stream}}.dump());
    ASSERT_TRUE(Eventually([&] { return workers_[0]->active() == 1; }));
    if (stream) {
      EXPECT_EQ(client.ReadHeader().get().result_int(), 200);
    }
    client.Close();
    ASSERT_TRUE(Eventually([&] { return workers_[0]->active() == 0; }));
    ExpectDrained();
  }
  EXPECT_EQ(workers_[0]->aborted().size(), 2u);
}

TEST_F(RouterServiceTest, KeepAliveManyRequests) {
  Start();
  TestClient client(port());
  for (int i = 0; i < 10; ++i) {
    const std::vector<int32_t> ids = {i + 1, i + 2};
    auto r = client.PostJson("/v1/completions",
                             {{"prompt", ids}, {"max_tokens", 3}, {"stream", i % 2 == 1}});
    ASSERT_EQ(r.result_int(), 200);
    EXPECT_TRUE(r.keep_alive());
  }
  ExpectDrained();
}

TEST_F(RouterServiceTest, SixteenConcurrentRequests) {
  Start();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      TestClient client(port());
      const std::vector<int32_t> ids = {100 + t, 200 + t, 300 + t};
      auto r = client.PostJson("/v1/completions",
                               {{"prompt", ids}, {"max_tokens", 8 + t}, {"stream", t % 2 == 0}});
      std::string text;
      if (t % 2 == 0) {
        for (const std::string& e : SseEvents(r.body())) {
          if (e != "[DONE]") text += json::parse(e)["choices"][0]["text"].get<std::string>();
        }
      } else {
        text = json::parse(r.body())["choices"][0]["text"];
      }
      if (r.result_int() == 200 && text == ExpectedText(ids, 8 + t)) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_GT(workers_[0]->submitted().size(), 0u);
  EXPECT_GT(workers_[1]->submitted().size(), 0u);
  ExpectDrained();
}

}  // namespace
}  // namespace moeserve::router::api
