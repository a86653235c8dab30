#include "tests/router/scheduler/fake_worker_client.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/prefix_hash.h"

namespace moeserve::router {

std::vector<int32_t> FakeWorkerOptions::DefaultVocabulary() {
  // " the", " quick", " brown", ... in the Qwen3 vocabulary: readable output in tests.
  return {279,  3974, 13876, 38835, 34208, 916,  15678, 5562, 323,  264,  8251,
          7578, 389,  5517,  23811, 1879,  374,  315,   311,  304,  432,  572,
          2518, 6303, 6176,  7015,  17788, 6774, 12884, 9396, 4916, 11958};
}

absl::Status FakeWorkerOptions::Validate() const {
  if (vocabulary.empty()) return absl::InvalidArgumentError("fake worker: empty vocabulary");
  if (token_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("fake worker: token_interval must be > 0");
  }
  if (total_kv_blocks <= 0 || kv_block_tokens <= 0) {
    return absl::InvalidArgumentError("fake worker: KV sizes must be > 0");
  }
  if (max_prefix_blocks < 0 || max_recent_prefixes < 0) {
    return absl::InvalidArgumentError("fake worker: prefix limits must be >= 0");
  }
  return absl::OkStatus();
}

FakeWorkerClient::FakeWorkerClient(FakeWorkerOptions options) : options_(std::move(options)) {
  const absl::Status valid = options_.Validate();
  if (!valid.ok()) {
    fprintf(stderr, "FakeWorkerClient: %s\n", valid.ToString().c_str());
    std::abort();
  }
  thread_ = std::thread([this] { Loop(); });
}

FakeWorkerClient::~FakeWorkerClient() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    cv_.Signal();
  }
  thread_.join();
  // Whatever is left ends as aborted; nothing holds the lock while sinks run.
  absl::flat_hash_map<std::string, Running> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(running_);
    order_.clear();
  }
  for (auto& [id, r] : left) {
    WorkerEvent event;
    event.finish_reason = FinishReason::kAborted;
    r.sink(std::move(event));
  }
}

int32_t FakeWorkerClient::TokenAt(absl::Span<const int32_t> prompt, int k,
                                  absl::Span<const int32_t> vocabulary) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a over the prompt, then k.
  for (int32_t id : prompt) h = (h ^ static_cast<uint32_t>(id)) * 1099511628211ULL;
  h = (h ^ static_cast<uint64_t>(k)) * 1099511628211ULL;
  h ^= h >> 29;
  return vocabulary[h % vocabulary.size()];
}

std::vector<int32_t> FakeWorkerClient::ExpectedTokens(absl::Span<const int32_t> prompt,
                                                      int n) const {
  std::vector<int32_t> out;
  for (int k = 0; k < n; ++k) out.push_back(TokenAt(prompt, k, options_.vocabulary));
  return out;
}

TokenLogprob FakeWorkerClient::LogprobAt(absl::Span<const int32_t> prompt, int k, int top_n) const {
  TokenLogprob lp;
  lp.token_id = TokenAt(prompt, k, options_.vocabulary);
  lp.logprob = -0.25 * (1 + k % 4);
  // The sampled token is the most likely; the others follow it in the vocabulary.
  const auto& vocab = options_.vocabulary;
  const size_t at = std::find(vocab.begin(), vocab.end(), lp.token_id) - vocab.begin();
  for (int j = 0; j < top_n; ++j) {
    const int32_t id = j == 0 ? lp.token_id : vocab[(at + j) % vocab.size()];
    lp.top.emplace_back(id, lp.logprob - j);
  }
  return lp;
}

absl::Status FakeWorkerClient::Submit(WorkerRequest request, EventSink sink) {
  absl::MutexLock lock(&mu_);
  if (!submit_error_.ok()) return submit_error_;
  if (!ready_) return absl::UnavailableError(absl::StrCat(options_.name, " is not ready"));
  if (running_.contains(request.request_id)) {
    return absl::AlreadyExistsError(absl::StrCat("request ", request.request_id, " exists"));
  }
  for (uint64_t h : PrefixBlockHashes(request.prompt_ids, options_.max_prefix_blocks,
                                      options_.kv_block_tokens)) {
    if (options_.max_recent_prefixes == 0) break;
    if (!recent_.insert(h).second) continue;
    recent_order_.push_back(h);
    if (recent_order_.size() > static_cast<size_t>(options_.max_recent_prefixes)) {
      recent_.erase(recent_order_.front());
      recent_order_.pop_front();
    }
  }
  const std::string id = request.request_id;
  submitted_.push_back(id);
  order_.push_back(id);
  running_.emplace(id, Running{std::move(request), std::move(sink), {}, false, {}});
  cv_.Signal();
  return absl::OkStatus();
}

void FakeWorkerClient::Abort(std::string_view request_id) {
  absl::MutexLock lock(&mu_);
  auto it = running_.find(std::string(request_id));
  if (it == running_.end() || it->second.abort) return;
  it->second.abort = true;
  aborted_.emplace_back(request_id);
  cv_.Signal();
}

LoadReport FakeWorkerClient::load() const {
  absl::MutexLock lock(&mu_);
  LoadReport report;
  if (load_override_.has_value()) {
    report = *load_override_;
  } else {
    int64_t used_blocks = 0;
    for (const auto& [id, r] : running_) {
      const int64_t len = static_cast<int64_t>(r.request.prompt_ids.size() + r.generated.size());
      used_blocks += (len + options_.kv_block_tokens - 1) / options_.kv_block_tokens;
      if (r.generated.empty()) {
        ++report.waiting_requests;
        report.queued_tokens += static_cast<int64_t>(r.request.prompt_ids.size());
      } else {
        ++report.running_requests;
        report.running_tokens += len;
      }
    }
    report.total_kv_blocks = options_.total_kv_blocks;
    report.free_kv_blocks = std::max<int64_t>(0, options_.total_kv_blocks - used_blocks);
    report.kv_block_tokens = options_.kv_block_tokens;
  }
  report.recent_prefixes.insert(recent_.begin(), recent_.end());
  return report;
}

bool FakeWorkerClient::ready() const {
  absl::MutexLock lock(&mu_);
  return ready_;
}

void FakeWorkerClient::SetReady(bool ready) {
  absl::MutexLock lock(&mu_);
  ready_ = ready;
}

void FakeWorkerClient::SetPaused(bool paused) {
  absl::MutexLock lock(&mu_);
  paused_ = paused;
  cv_.Signal();
}

void FakeWorkerClient::SetSubmitError(absl::Status status) {
  absl::MutexLock lock(&mu_);
  submit_error_ = std::move(status);
}

void FakeWorkerClient::FailRunning(absl::Status status) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, r] : running_) r.failure = status;
  cv_.Signal();
}

void FakeWorkerClient::SetLoadOverride(std::optional<LoadReport> report) {
  absl::MutexLock lock(&mu_);
  load_override_ = std::move(report);
}

std::vector<std::string> FakeWorkerClient::submitted() const {
  absl::MutexLock lock(&mu_);
  return submitted_;
}

std::vector<std::string> FakeWorkerClient::aborted() const {
  absl::MutexLock lock(&mu_);
  return aborted_;
}

int FakeWorkerClient::active() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(running_.size());
}

bool FakeWorkerClient::WaitUntilIdle(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return running_.empty(); };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

std::optional<WorkerEvent> FakeWorkerClient::StepOne(Running& r) {
  WorkerEvent event;
  if (!r.failure.ok()) {
    event.status = r.failure;
    return event;
  }
  if (r.abort) {
    event.finish_reason = FinishReason::kAborted;
    return event;
  }
  if (paused_) return std::nullopt;
  const WorkerRequest& req = r.request;
  const int k = static_cast<int>(r.generated.size());
  int32_t token = TokenAt(req.prompt_ids, k, options_.vocabulary);
  const bool eos = options_.eos_token_id >= 0 && options_.eos_after >= 1 &&
                   k + 1 == options_.eos_after && !req.ignore_eos;
  if (eos) token = options_.eos_token_id;
  r.generated.push_back(token);
  event.token_ids.push_back(token);
  if (req.logprobs >= 0) {
    TokenLogprob lp = LogprobAt(req.prompt_ids, k, req.logprobs);
    if (eos) {
      lp.token_id = token;
      if (!lp.top.empty()) lp.top[0].first = token;
    }
    event.logprobs.push_back(std::move(lp));
  }
  const bool stop = eos || std::find(req.stop_token_ids.begin(), req.stop_token_ids.end(), token) !=
                               req.stop_token_ids.end();
  if (stop) {
    event.finish_reason = FinishReason::kStop;
  } else if (static_cast<int>(r.generated.size()) >= req.max_tokens) {
    event.finish_reason = FinishReason::kLength;
  }
  return event;
}

void FakeWorkerClient::Loop() {
  absl::Time next_step = absl::Now();
  while (true) {
    std::vector<std::pair<EventSink, WorkerEvent>> deliveries;
    {
      absl::MutexLock lock(&mu_);
      // Sleep until the next step is due and there is something to do.
      while (!stop_) {
        bool urgent = false;  // Aborts and failures do not wait for a step.
        for (const auto& [id, r] : running_) urgent |= r.abort || !r.failure.ok();
        if (urgent) break;
        if (running_.empty() || paused_) {
          cv_.Wait(&mu_);
          next_step = std::max(next_step, absl::Now());
          continue;
        }
        if (absl::Now() >= next_step) break;
        cv_.WaitWithDeadline(&mu_, next_step);
      }
      if (stop_) return;
      const bool step_due = absl::Now() >= next_step;
      if (step_due) next_step += options_.token_interval;
      if (next_step < absl::Now()) next_step = absl::Now() + options_.token_interval;
      std::vector<std::string> still;
      for (const std::string& id : order_) {
        auto it = running_.find(id);
        Running& r = it->second;
        std::optional<WorkerEvent> event;
        if (step_due || r.abort || !r.failure.ok()) event = StepOne(r);
        if (!event.has_value()) {
          still.push_back(id);
          continue;
        }
        const bool terminal = event->terminal();
        if (terminal) {
          deliveries.emplace_back(std::move(r.sink), std::move(*event));
          running_.erase(it);
        } else {
          deliveries.emplace_back(r.sink, std::move(*event));
          still.push_back(id);
        }
      }
      order_.swap(still);
    }
    for (auto& [sink, event] : deliveries) sink(std::move(event));
  }
}

}  // namespace moeserve::router
