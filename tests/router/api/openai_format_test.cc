#include "router/api/openai_format.h"

#include "gtest/gtest.h"
#include "router/api/api_error.h"
#include "router/tokenizer/tokenizer.h"

namespace moeserve::router::api {
namespace {

using json = nlohmann::json;

const tokenizer::Tokenizer* Qwen() {
  static const tokenizer::Tokenizer* t = [] {
    auto loaded = tokenizer::Tokenizer::FromFile(std::string(MOESERVE_DATA_CACHE) +
                                                 "/qwen3-tokenizer/tokenizer.json");
    return loaded.ok() ? loaded->release() : nullptr;
  }();
  return t;
}

absl::StatusOr<CompletionRequest> Parse(const json& body) {
  return ParseCompletionRequest(body.dump(), "m");
}

// ---- api_error ----

TEST(ApiError, StatusMapsToHttpAndBody) {
  EXPECT_EQ(HttpStatusOf(absl::InvalidArgumentError("x")), 400);
  EXPECT_EQ(HttpStatusOf(absl::NotFoundError("x")), 404);
  EXPECT_EQ(HttpStatusOf(absl::ResourceExhaustedError("x")), 429);
  EXPECT_EQ(HttpStatusOf(absl::UnavailableError("x")), 503);
  EXPECT_EQ(HttpStatusOf(absl::InternalError("x")), 500);
  const absl::Status s = InvalidParam("top_p", "bad top_p");
  EXPECT_EQ(ParamOf(s), "top_p");
  const json body = json::parse(ErrorBody(s));
  EXPECT_EQ(body, json::parse(R"({"error":{"message":"bad top_p","type":"invalid_request_error",
                                   "param":"top_p","code":null}})"));
  EXPECT_TRUE(json::parse(ErrorBody(503, "down"))["error"]["param"].is_null());
  EXPECT_EQ(json::parse(ErrorBody(429, "full"))["error"]["type"], "rate_limit_error");
  EXPECT_EQ(json::parse(ErrorBody(503, "down"))["error"]["type"], "server_error");
}

// ---- Parsing ----

TEST(ParseCompletionRequest, Defaults) {
  auto r = Parse({{"model", "m"}, {"prompt", "hi"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->prompt_text, "hi");
  EXPECT_EQ(r->max_tokens, 16);
  EXPECT_EQ(r->logprobs, -1);
  EXPECT_FALSE(r->stream);
  EXPECT_EQ(r->sampling.temperature, 1.0f);
  EXPECT_TRUE(r->skip_special_tokens);
}

TEST(ParseCompletionRequest, AllFields) {
  auto r = Parse({{"model", "m"},
                  {"prompt", {1, 2, 3}},
                  {"max_tokens", 7},
                  {"temperature", 0},
                  {"top_p", 0.5},
                  {"top_k", 40},
                  {"min_p", 0.1},
                  {"seed", 1234},
                  {"presence_penalty", 0.5},
                  {"frequency_penalty", -0.5},
                  {"repetition_penalty", 1.1},
                  {"stop_token_ids", {5, 6}},
                  {"ignore_eos", true},
                  {"logprobs", 3},
                  {"return_tokens_as_token_ids", true},
                  {"stream", true},
                  {"stream_options", {{"include_usage", true}}},
                  {"echo", false},
                  {"n", 1},
                  {"user", "ignored"},
                  {"some_unknown_field", {1, 2}}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->prompt_text.has_value());
  EXPECT_EQ(r->prompt_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(r->max_tokens, 7);
  EXPECT_EQ(r->sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(r->sampling.top_p, 0.5f);
  EXPECT_EQ(r->sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r->sampling.min_p, 0.1f);
  EXPECT_EQ(r->sampling.seed, 1234u);
  EXPECT_FLOAT_EQ(r->sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r->sampling.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(r->sampling.repetition_penalty, 1.1f);
  EXPECT_EQ(r->stop_token_ids, (std::vector<int32_t>{5, 6}));
  EXPECT_TRUE(r->ignore_eos);
  EXPECT_EQ(r->logprobs, 3);
  EXPECT_TRUE(r->return_tokens_as_token_ids);
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
}

TEST(ParseCompletionRequest, PromptShapes) {
  EXPECT_EQ(Parse({{"prompt", {"one"}}})->prompt_text, "one");
  EXPECT_EQ(Parse({{"prompt", {{4, 5}}}})->prompt_ids, (std::vector<int32_t>{4, 5}));
  EXPECT_TRUE(Parse({{"prompt", ""}}).ok());  // Empty after tokenization: the service says 400.
  struct Bad {
    json prompt;
    const char* why;
  };
  for (const Bad& bad : std::vector<Bad>{{json::array(), "empty array"},
                                         {{"a", "b"}, "batch of strings"},
                                         {{{1}, {2}}, "batch of id arrays"},
                                         {{1, "a"}, "mixed"},
                                         {{1.5}, "float id"},
                                         {{-1}, "negative id"},
                                         {{5000000000LL}, "id beyond int32"},
                                         {{json::array()}, "empty inner array"},
                                         {42, "number"},
                                         {{{"x", 1}}, "object"},
                                         {nullptr, "null"}}) {
    auto r = Parse({{"prompt", bad.prompt}});
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << bad.why;
    EXPECT_EQ(ParamOf(r.status()), "prompt") << bad.why;
  }
  EXPECT_NE(Parse({{"prompt", {"a", "b"}}}).status().message().find("batch"), std::string::npos);
  EXPECT_TRUE(absl::IsInvalidArgument(Parse({{"model", "m"}}).status()));
}

TEST(ParseCompletionRequest, WrongTypesAndRangesNameTheParam) {
  struct Bad {
    const char* field;
    json value;
  };
  const std::vector<Bad> bads = {
      {"max_tokens", 0},
      {"max_tokens", -5},
      {"max_tokens", "16"},
      {"max_tokens", 1e30},
      {"max_tokens", 2.5},
      {"max_tokens", 18446744073709551615ULL},
      {"temperature", -0.1},
      {"temperature", "hot"},
      {"top_p", 0},
      {"top_p", 1.5},
      {"top_k", -2},
      {"top_k", 1.5},
      {"min_p", 2},
      {"presence_penalty", 3},
      {"frequency_penalty", -3},
      {"repetition_penalty", 0},
      {"seed", "x"},
      {"seed", 1.5},
      {"stop_token_ids", 5},
      {"stop_token_ids", {"a"}},
      {"ignore_eos", 1},
      {"logprobs", 21},
      {"logprobs", -1},
      {"logprobs", true},
      {"stream", "yes"},
      {"echo", true},
      {"n", 2},
      {"best_of", 3},
      {"suffix", "x"},
      {"logit_bias", {{"1", 5}}},
      {"stop", "###"},
      {"stop", {"a"}},
      {"return_tokens_as_token_ids", "true"},
      {"model", 5},
  };
  for (const Bad& bad : bads) {
    json body = {{"prompt", "hi"}};
    body[bad.field] = bad.value;
    auto r = Parse(body);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << bad.field << "=" << bad.value.dump();
    EXPECT_EQ(ParamOf(r.status()), bad.field) << bad.field << "=" << bad.value.dump();
  }
  // Null means "default" for every optional field; empty stop lists are fine.
  EXPECT_TRUE(Parse({{"prompt", "hi"},
                     {"max_tokens", nullptr},
                     {"logprobs", nullptr},
                     {"stop", json::array()},
                     {"stop", ""},
                     {"max_tokens", 3.0}})
                  .ok());
  auto options_without_stream = Parse({{"prompt", "hi"}, {"stream_options", json::object()}});
  EXPECT_EQ(ParamOf(options_without_stream.status()), "stream_options");
}

TEST(ParseCompletionRequest, MalformedBodies) {
  for (std::string body : {"", "{", "[1,2]", "\"str\"", "{\"prompt\": \"a\",}", "nul",
                           "{\"prompt\": \"\xff\xfe\"}", "{\"prompt\": \"\\ud800\"}"}) {
    auto r = ParseCompletionRequest(body, "m");
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << body;
  }
  std::string deep(100000, '[');
  EXPECT_TRUE(absl::IsInvalidArgument(ParseCompletionRequest(deep, "m").status()));
}

TEST(ParseCompletionRequest, OtherModelIsNotFound) {
  auto r = Parse({{"model", "gpt-4"}, {"prompt", "hi"}});
  EXPECT_TRUE(absl::IsNotFound(r.status()));
  EXPECT_EQ(ParamOf(r.status()), "model");
}

// ---- Formatting ----

TEST(Formatting, CompletionObject) {
  CompletionMeta meta{"cmpl-1", 1700000000, "m"};
  json j = CompletionJson(meta, "hello", nullptr, FinishReason::kLength, std::nullopt, {3, 4});
  EXPECT_EQ(j, json::parse(R"({"id":"cmpl-1","object":"text_completion","created":1700000000,
      "model":"m","choices":[{"index":0,"text":"hello","logprobs":null,"finish_reason":"length",
      "stop_reason":null}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})"));
  json chunk = CompletionChunkJson(meta, "he", nullptr, FinishReason::kNone, std::nullopt);
  EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(chunk.contains("usage"));
  json stop = CompletionChunkJson(meta, "", nullptr, FinishReason::kStop, 7);
  EXPECT_EQ(stop["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(stop["choices"][0]["stop_reason"], 7);
  json usage = UsageChunkJson(meta, {1, 2});
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 3);
  EXPECT_EQ(SseData(json{{"a", 1}}), "data: {\"a\":1}\n\n");
}

TEST(Formatting, Models) {
  json j = ModelsJson("Qwen/Qwen3", 123, "moeserve", 4096);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["data"][0]["id"], "Qwen/Qwen3");
  EXPECT_EQ(j["data"][0]["object"], "model");
  EXPECT_EQ(j["data"][0]["created"], 123);
  EXPECT_EQ(j["data"][0]["owned_by"], "moeserve");
}

TEST(Formatting, LogprobsObject) {
  CompletionLogprobs lp;
  lp.tokens = {" a"};
  lp.token_logprobs = {-0.5};
  lp.top_logprobs = {{{" a", -0.5}, {" b", -1.5}}};
  lp.text_offset = {0};
  EXPECT_EQ(lp.ToJson(), json::parse(R"({"tokens":[" a"],"token_logprobs":[-0.5],
      "top_logprobs":[{" a":-0.5," b":-1.5}],"text_offset":[0]})"));
}

// ---- CompletionOutput (needs the Qwen3 tokenizer) ----

class CompletionOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Qwen() == nullptr) GTEST_SKIP() << "Qwen3 tokenizer not in " << MOESERVE_DATA_CACHE;
  }
};

WorkerEvent Tokens(std::vector<int32_t> ids, FinishReason finish = FinishReason::kNone) {
  WorkerEvent e;
  e.token_ids = std::move(ids);
  e.finish_reason = finish;
  return e;
}

TEST_F(CompletionOutputTest, NeverSplitsUtf8AndDropsTheStopToken) {
  const auto* tok = Qwen();
  const std::vector<int32_t> ids = tok->Encode("héllo 你好 🙂 world");
  CompletionRequest req;
  req.stop_token_ids = {151643};
  CompletionOutput out(tok, req);
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto d = out.Add(Tokens({ids[i]}));
    ASSERT_TRUE(d.ok());
    // Every delta is whole characters.
    EXPECT_EQ(json(d->text).dump(-1, ' ', false, json::error_handler_t::strict).empty(), false);
    text += d->text;
  }
  auto last = out.Add(Tokens({151643}, FinishReason::kStop));
  ASSERT_TRUE(last.ok());
  text += last->text;
  EXPECT_EQ(text, "héllo 你好 🙂 world");
  EXPECT_EQ(out.completion_tokens(), static_cast<int64_t>(ids.size()) + 1);
  EXPECT_EQ(out.stop_reason(), 151643);
}

TEST_F(CompletionOutputTest, SplitCharacterAcrossTokens) {
  const auto* tok = Qwen();
  // "你" is three bytes; as three byte-level tokens the first two deltas are empty.
  std::vector<int32_t> bytes;
  for (const char* piece : {"ä", "½", "ł"}) bytes.push_back(*tok->TokenToId(piece));
  CompletionRequest req;
  CompletionOutput out(tok, req);
  EXPECT_EQ(out.Add(Tokens({bytes[0]}))->text, "");
  EXPECT_EQ(out.Add(Tokens({bytes[1]}))->text, "");
  EXPECT_EQ(out.Add(Tokens({bytes[2]}))->text, "你");
  // A truncated character at the end becomes U+FFFD.
  EXPECT_EQ(out.Add(Tokens({bytes[0]}, FinishReason::kLength))->text, "\xEF\xBF\xBD");
}

TEST_F(CompletionOutputTest, LogprobsOffsetsAndTokenIds) {
  const auto* tok = Qwen();
  const std::vector<int32_t> ids = tok->Encode(" the quick brown");
  ASSERT_EQ(ids.size(), 3u);
  CompletionRequest req;
  req.logprobs = 1;
  CompletionOutput out(tok, req);
  WorkerEvent e = Tokens(ids);
  for (int32_t id : ids) {
    TokenLogprob lp;
    lp.token_id = id;
    lp.logprob = -1.0;
    lp.top = {{279, -0.25}};  // " the" is the most likely every time.
    e.logprobs.push_back(lp);
  }
  auto d = out.Add(e);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->text, " the quick brown");
  EXPECT_EQ(d->logprobs.tokens, (std::vector<std::string>{" the", " quick", " brown"}));
  EXPECT_EQ(d->logprobs.text_offset, (std::vector<int64_t>{0, 4, 10}));
  EXPECT_EQ(d->logprobs.token_logprobs, (std::vector<double>{-1, -1, -1}));
  // Top: the one most likely plus the sampled token when it is not among them.
  EXPECT_EQ(d->logprobs.top_logprobs[0].size(), 1u);
  EXPECT_EQ(d->logprobs.top_logprobs[1].size(), 2u);

  CompletionRequest as_ids = req;
  as_ids.return_tokens_as_token_ids = true;
  CompletionOutput out2(tok, as_ids);
  auto d2 = out2.Add(e);
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(d2->logprobs.tokens[1], "token_id:" + std::to_string(ids[1]));
  // The sampled token first (as vLLM), then the most likely.
  EXPECT_EQ(d2->logprobs.top_logprobs[1][0].first, "token_id:" + std::to_string(ids[1]));
  EXPECT_EQ(d2->logprobs.top_logprobs[1][1].first, "token_id:279");
}

TEST_F(CompletionOutputTest, IdsPastTheTokenizerAddNoText) {
  // Model vocabularies are padded past the tokenizer (Qwen3: 151,936 vs 151,669).
  CompletionRequest req;
  CompletionOutput out(Qwen(), req);
  auto delta = out.Add(Tokens({151700}));
  ASSERT_TRUE(delta.ok()) << delta.status();
  EXPECT_EQ(delta->text, "");
}

TEST_F(CompletionOutputTest, NegativeTokenIsAnError) {
  CompletionRequest req;
  CompletionOutput out(Qwen(), req);
  EXPECT_FALSE(out.Add(Tokens({-5})).ok());
}

}  // namespace
}  // namespace moeserve::router::api
