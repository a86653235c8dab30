#include "router/api/router_service.h"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "router/api/api_error.h"
#include "router/api/openai_format.h"

namespace moeserve::router::api {
namespace {

constexpr char kJson[] = "application/json";

void RespondError(ResponseWriter& writer, const absl::Status& status) {
  writer.Respond(HttpStatusOf(status), kJson, ErrorBody(status));
}

// One completion in flight: turns its worker events into the HTTP response. Events arrive in
// order and never overlap (the scheduler's contract); the mutex orders them against Start(),
// which the handler calls after a successful Submit.
class Completion {
 public:
  Completion(const tokenizer::Tokenizer* tokenizer, const CompletionRequest& request,
             CompletionMeta meta, int64_t prompt_tokens, std::shared_ptr<ResponseWriter> writer)
      : output_(tokenizer, request),
        meta_(std::move(meta)),
        stream_(request.stream),
        include_usage_(request.include_usage),
        want_logprobs_(request.logprobs >= 0),
        prompt_tokens_(prompt_tokens),
        writer_(std::move(writer)) {}

  // Streams: sends the response header (once Submit has accepted the request).
  void Start() {
    absl::MutexLock lock(&mu_);
    EnsureStarted();
  }

  void OnEvent(WorkerEvent event) {
    absl::MutexLock lock(&mu_);
    if (done_) return;
    absl::StatusOr<CompletionOutput::Delta> delta = output_.Add(event);
    if (!delta.ok()) {
      LOG(ERROR) << "completion " << meta_.id << ": " << delta.status().ToString();
      return Fail(absl::InternalError(absl::StrCat("worker output: ", delta.status().message())));
    }
    if (!event.status.ok()) return Fail(event.status);
    if (event.finish_reason == FinishReason::kAborted) {
      return Fail(absl::UnavailableError("the request was aborted"));
    }
    const bool finished = event.finish_reason != FinishReason::kNone;
    if (stream_) {
      EnsureStarted();
      if (!delta->text.empty() || !delta->logprobs.empty() || finished) {
        writer_->Write(SseData(CompletionChunkJson(
            meta_, delta->text, want_logprobs_ ? &delta->logprobs : nullptr, event.finish_reason,
            finished ? output_.stop_reason() : std::nullopt)));
      }
      if (finished) {
        if (include_usage_) writer_->Write(SseData(UsageChunkJson(meta_, MakeUsage())));
        writer_->Write(std::string(kSseDone));
        writer_->End();
        done_ = true;
      }
      return;
    }
    text_ += delta->text;
    if (want_logprobs_) Append(std::move(delta->logprobs));
    if (finished) {
      writer_->Respond(
          200, kJson,
          Dump(CompletionJson(meta_, text_, want_logprobs_ ? &logprobs_ : nullptr,
                              event.finish_reason, output_.stop_reason(), MakeUsage())));
      done_ = true;
    }
  }

 private:
  void EnsureStarted() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!stream_ || started_) return;
    started_ = true;
    writer_->StartStream(200, "text/event-stream");
  }

  void Fail(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    done_ = true;
    if (!stream_) return RespondError(*writer_, status);
    EnsureStarted();
    writer_->Write(absl::StrCat("data: ", ErrorBody(status), "\n\n"));
    writer_->Write(std::string(kSseDone));
    writer_->End();
  }

  Usage MakeUsage() const { return {prompt_tokens_, output_.completion_tokens()}; }

  void Append(CompletionLogprobs more) {
    auto move_into = [](auto& to, auto& from) {
      to.insert(to.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
    };
    move_into(logprobs_.tokens, more.tokens);
    move_into(logprobs_.token_logprobs, more.token_logprobs);
    move_into(logprobs_.top_logprobs, more.top_logprobs);
    move_into(logprobs_.text_offset, more.text_offset);
  }

  absl::Mutex mu_;
  CompletionOutput output_ ABSL_GUARDED_BY(mu_);
  const CompletionMeta meta_;
  const bool stream_;
  const bool include_usage_;
  const bool want_logprobs_;
  const int64_t prompt_tokens_;
  const std::shared_ptr<ResponseWriter> writer_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::string text_ ABSL_GUARDED_BY(mu_);             // Whole responses only.
  CompletionLogprobs logprobs_ ABSL_GUARDED_BY(mu_);  // Whole responses only.
};

}  // namespace

std::string NewCompletionId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char hex[33];
  snprintf(hex, sizeof(hex), "%016llx%016llx", static_cast<unsigned long long>(rng()),
           static_cast<unsigned long long>(rng()));
  return absl::StrCat("cmpl-", hex);
}

absl::Status RouterServiceOptions::Validate() const {
  if (model_id.empty()) return absl::InvalidArgumentError("router: model_id must not be empty");
  if (max_model_len < 2) return absl::InvalidArgumentError("router: max_model_len must be >= 2");
  if (default_max_tokens < 1) {
    return absl::InvalidArgumentError("router: default_max_tokens must be >= 1");
  }
  if (created < 0) return absl::InvalidArgumentError("router: created must be >= 0");
  return absl::OkStatus();
}

RouterService::RouterService(RouterServiceOptions options, const tokenizer::Tokenizer* tokenizer,
                             Scheduler* scheduler, std::function<bool()> ready)
    : options_(std::move(options)),
      tokenizer_(tokenizer),
      scheduler_(scheduler),
      ready_(std::move(ready)),
      created_(options_.created != 0 ? options_.created : absl::ToUnixSeconds(absl::Now())) {
  absl::Status valid = options_.Validate();
  if (valid.ok() && (tokenizer_ == nullptr || scheduler_ == nullptr || !ready_)) {
    valid = absl::InvalidArgumentError("router: tokenizer, scheduler and ready are required");
  }
  if (!valid.ok()) {
    fprintf(stderr, "RouterService: %s\n", valid.ToString().c_str());
    std::abort();
  }
}

void RouterService::Register(HttpServer* server) {
  server->Handle("GET", "/health", [this](const HttpRequest& r, std::shared_ptr<ResponseWriter> w) {
    HandleHealth(r, std::move(w));
  });
  server->Handle("GET", "/v1/models",
                 [this](const HttpRequest& r, std::shared_ptr<ResponseWriter> w) {
                   HandleModels(r, std::move(w));
                 });
  server->Handle("POST", "/v1/completions",
                 [this](const HttpRequest& r, std::shared_ptr<ResponseWriter> w) {
                   HandleCompletions(r, std::move(w));
                 });
}

void RouterService::HandleHealth(const HttpRequest&, std::shared_ptr<ResponseWriter> writer) {
  if (ready_()) return writer->Respond(200, kJson, "{}");
  RespondError(*writer, absl::UnavailableError("no worker is ready"));
}

void RouterService::HandleModels(const HttpRequest&, std::shared_ptr<ResponseWriter> writer) {
  writer->Respond(
      200, kJson,
      Dump(ModelsJson(options_.model_id, created_, options_.owned_by, options_.max_model_len)));
}

void RouterService::HandleCompletions(const HttpRequest& http,
                                      std::shared_ptr<ResponseWriter> writer) {
  absl::StatusOr<CompletionRequest> parsed =
      ParseCompletionRequest(http.body, options_.model_id, options_.default_max_tokens);
  if (!parsed.ok()) return RespondError(*writer, parsed.status());
  const CompletionRequest& request = *parsed;

  const int32_t vocab = options_.vocab_size > 0 ? options_.vocab_size : tokenizer_->vocab_size();
  std::vector<int32_t> prompt;
  if (request.prompt_text.has_value()) {
    prompt = tokenizer_->Encode(*request.prompt_text, /*allow_special=*/true);
  } else {
    prompt = request.prompt_ids;
    for (int32_t id : prompt) {
      if (id >= vocab) {
        return RespondError(
            *writer,
            InvalidParam("prompt", absl::StrCat("token id ", id, " is out of vocabulary (size ",
                                                vocab, ")")));
      }
    }
  }
  for (int32_t id : request.stop_token_ids) {
    if (id >= vocab) {
      return RespondError(
          *writer,
          InvalidParam("stop_token_ids",
                       absl::StrCat("token id ", id, " is out of vocabulary (size ", vocab, ")")));
    }
  }
  if (prompt.empty()) {
    return RespondError(*writer, InvalidParam("prompt", "the prompt must not be empty"));
  }
  const int64_t total = static_cast<int64_t>(prompt.size()) + request.max_tokens;
  if (total > options_.max_model_len) {
    return RespondError(
        *writer,
        InvalidParam(
            prompt.size() >= static_cast<size_t>(options_.max_model_len) ? "prompt" : "max_tokens",
            absl::StrCat("This model's maximum context length is ", options_.max_model_len,
                         " tokens. However, you requested ", total, " tokens (", prompt.size(),
                         " in the prompt, ", request.max_tokens,
                         " in the completion). Please reduce the length of the "
                         "prompt or completion.")));
  }

  CompletionMeta meta;
  meta.id = NewCompletionId();
  meta.created = absl::ToUnixSeconds(absl::Now());
  meta.model = options_.model_id;

  WorkerRequest work;
  work.request_id = meta.id;
  work.sampling = request.sampling;
  work.max_tokens = request.max_tokens;
  work.stop_token_ids = request.stop_token_ids;
  work.ignore_eos = request.ignore_eos;
  work.logprobs = request.logprobs;
  const int64_t prompt_tokens = static_cast<int64_t>(prompt.size());
  work.prompt_ids = std::move(prompt);

  auto completion = std::make_shared<Completion>(tokenizer_, request, meta, prompt_tokens, writer);
  const absl::Status submitted = scheduler_->Submit(
      std::move(work), [completion](WorkerEvent event) { completion->OnEvent(std::move(event)); });
  if (!submitted.ok()) return RespondError(*writer, submitted);
  completion->Start();
  writer->OnClose([scheduler = scheduler_, id = meta.id] { scheduler->Cancel(id); });
}

}  // namespace moeserve::router::api
