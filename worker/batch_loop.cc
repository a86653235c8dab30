#include "worker/batch_loop.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace moeserve {

BatchLoop::BatchLoop(ModelRunner* runner, BlockAllocator* allocator, BatchLoopOptions options,
                     std::function<void(LoopEvent)> sink)
    : runner_(runner),
      allocator_(allocator),
      options_(options),
      sink_(std::move(sink)),
      cache_(allocator, options.block_size) {
  logits_.resize(options_.max_num_seqs * runner_->config().vocab_size);
  PublishLoad();
}

BatchLoop::~BatchLoop() { Stop(); }

void BatchLoop::Start() { thread_ = std::thread([this] { Loop(); }); }

void BatchLoop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void BatchLoop::Add(LoopRequest request) {
  absl::MutexLock lock(&mu_);
  inbox_.push_back(std::move(request));
}

void BatchLoop::Abort(const std::string& id) {
  absl::MutexLock lock(&mu_);
  aborts_.push_back(id);
}

LoopLoad BatchLoop::load() const {
  absl::MutexLock lock(&mu_);
  return load_;
}

void BatchLoop::PublishLoad() {
  LoopLoad l;
  l.waiting_requests = static_cast<int64_t>(waiting_.size());
  l.running_requests = static_cast<int64_t>(running_.size());
  for (const auto& s : waiting_) l.queued_tokens += static_cast<int64_t>(s->request.prompt.size());
  for (const auto& s : running_) l.running_tokens += s->length();
  l.free_kv_blocks = allocator_->num_free();
  l.total_kv_blocks = allocator_->num_blocks();
  l.steps = steps_;
  l.generated_tokens = generated_;
  l.prefix_hit_tokens = cache_.hit_tokens();
  l.prefix_query_tokens = cache_.query_tokens();
  l.preemptions = preemptions_;
  absl::MutexLock lock(&mu_);
  l.waiting_requests += static_cast<int64_t>(inbox_.size());
  load_ = l;
}

void BatchLoop::Finish(std::unique_ptr<Sequence>& seq, const std::string& reason,
                       absl::Status error) {
  LoopEvent e;
  e.id = seq->request.id;
  e.finished = true;
  e.finish_reason = reason;
  e.error = std::move(error);
  e.prompt_tokens = static_cast<int64_t>(seq->request.prompt.size());
  e.completion_tokens = static_cast<int64_t>(seq->output.size());
  seq->blocks.Release(*allocator_);
  seq.reset();
  sink_(std::move(e));
}

void BatchLoop::DrainInbox() {
  std::deque<LoopRequest> inbox;
  std::vector<std::string> aborts;
  {
    absl::MutexLock lock(&mu_);
    inbox.swap(inbox_);
    aborts.swap(aborts_);
  }
  const RunnerLimits& limits = runner_->limits();
  const int64_t vocab = runner_->config().vocab_size;
  for (LoopRequest& r : inbox) {
    auto seq = std::make_unique<Sequence>(options_.block_size);
    absl::Status bad = r.sampling.Validate();
    const int64_t total = static_cast<int64_t>(r.prompt.size()) + r.max_tokens;
    if (bad.ok() && r.prompt.empty()) bad = absl::InvalidArgumentError("the prompt is empty");
    if (bad.ok() && r.max_tokens <= 0) bad = absl::InvalidArgumentError("max_tokens must be > 0");
    if (bad.ok() && (r.logprobs < 0 || r.logprobs > 20)) {
      bad = absl::InvalidArgumentError("logprobs must be in [0, 20]");
    }
    for (int32_t id : r.prompt) {
      if (bad.ok() && (id < 0 || id >= vocab)) {
        bad = absl::InvalidArgumentError(
            absl::StrCat("prompt token id ", id, " is outside the vocabulary [0, ", vocab, ")"));
      }
    }
    if (bad.ok() && total > limits.max_context) {
      bad = absl::InvalidArgumentError(absl::StrCat("prompt + max_tokens (", total,
                                                    ") exceeds the context limit ",
                                                    limits.max_context));
    }
    if (bad.ok() && (total + options_.block_size - 1) / options_.block_size >
                        allocator_->num_blocks()) {
      bad = absl::ResourceExhaustedError("the request needs more KV cache than this worker has");
    }
    seq->request = std::move(r);
    if (!bad.ok()) {
      Finish(seq, "", bad);
      continue;
    }
    seq->sampler = std::make_unique<Sampler>(seq->request.sampling);
    waiting_.push_back(std::move(seq));
  }
  for (const std::string& id : aborts) {
    for (auto& s : running_) {
      if (s && s->request.id == id) Finish(s, "abort", absl::OkStatus());
    }
    for (auto& s : waiting_) {
      if (s && s->request.id == id) Finish(s, "abort", absl::OkStatus());
    }
  }
  std::erase(running_, nullptr);
  std::erase(waiting_, nullptr);
}

std::vector<int32_t> BatchLoop::Tokens(const Sequence& seq) const {
  std::vector<int32_t> all = seq.request.prompt;
  all.insert(all.end(), seq.output.begin(), seq.output.end());
  return all;
}

void BatchLoop::Publish(Sequence* seq) {
  const int64_t bs = options_.block_size;
  if (static_cast<int64_t>(seq->hashes.size() + 1) * bs > seq->computed) return;
  const std::vector<int32_t> all = Tokens(*seq);
  while (static_cast<int64_t>(seq->hashes.size() + 1) * bs <= seq->computed) {
    const size_t i = seq->hashes.size();
    const uint64_t parent = i == 0 ? 0 : seq->hashes[i - 1];
    seq->hashes.push_back(cache_.Insert(
        parent, std::span<const int32_t>(all).subspan(i * bs, bs), seq->blocks.blocks()[i]));
  }
}

void BatchLoop::Preempt(Sequence* seq) {
  Publish(seq);  // its full blocks stay cached: recomputation may hit them
  seq->blocks.Release(*allocator_);
  seq->hashes.clear();
  seq->computed = 0;
  ++preemptions_;
}

bool BatchLoop::Grow(Sequence* seq, int64_t tokens) {
  const int64_t bs = options_.block_size;
  for (;;) {
    const int64_t have = static_cast<int64_t>(seq->blocks.blocks().size());
    const int32_t need = static_cast<int32_t>(std::max<int64_t>(0, (tokens + bs - 1) / bs - have));
    if (cache_.EnsureFree(need)) return seq->blocks.Reserve(tokens, *allocator_).ok();
    // Preempt the most recently admitted other running sequence.
    auto victim = running_.end();
    for (auto it = running_.begin(); it != running_.end(); ++it) {
      if (it->get() == seq || *it == nullptr) continue;
      if (victim == running_.end() || (*it)->admit_order > (*victim)->admit_order) victim = it;
    }
    if (victim == running_.end()) return false;
    Preempt(victim->get());
    waiting_.push_front(std::move(*victim));
    running_.erase(victim);
  }
}

void BatchLoop::Admit() {
  const int64_t bs = options_.block_size;
  while (!waiting_.empty() && static_cast<int64_t>(running_.size()) < options_.max_num_seqs) {
    Sequence& s = *waiting_.front();
    if (s.blocks.blocks().empty()) {
      // Reuse the longest cached prefix, never the whole sequence (one token must compute).
      const std::vector<int32_t> all = Tokens(s);
      const std::vector<int32_t> hit = cache_.Match(all, (s.length() - 1) / bs);
      uint64_t parent = 0;
      for (size_t i = 0; i < hit.size(); ++i) {
        s.blocks.Append(hit[i]);
        parent = BlockCache::ChainHash(parent, std::span<const int32_t>(all).subspan(i * bs, bs));
        s.hashes.push_back(parent);
      }
      s.computed = static_cast<int64_t>(hit.size()) * bs;
    }
    const int64_t chunk = std::min(s.length() - s.computed, options_.max_num_batched_tokens);
    const int64_t have = static_cast<int64_t>(s.blocks.blocks().size());
    const int32_t need =
        static_cast<int32_t>(std::max<int64_t>(0, (s.computed + chunk + bs - 1) / bs - have));
    if (!cache_.EnsureFree(need) || !s.blocks.Reserve(s.computed + chunk, *allocator_).ok()) {
      // FCFS: wait for blocks, holding none (the prefix stays cached).
      s.blocks.Release(*allocator_);
      s.hashes.clear();
      s.computed = 0;
      break;
    }
    s.admit_order = ++next_admit_;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

absl::Status BatchLoop::Step() {
  std::vector<SequenceChunk> chunks;
  std::vector<Sequence*> owners;
  std::vector<std::vector<int32_t>> chunk_tokens;
  int64_t budget = options_.max_num_batched_tokens;
  chunks.reserve(running_.size());
  chunk_tokens.reserve(running_.size());  // stable addresses for token_ids
  // Oldest first: a sequence that must grow may preempt only newer ones, not yet planned.
  for (size_t k = 0; k < running_.size(); ++k) {
    Sequence* s = running_[k].get();
    const int64_t left = s->length() - s->computed;
    if (budget <= 0 || left <= 0) continue;
    const int64_t n = std::min(left, budget);
    if (!Grow(s, s->computed + n)) continue;  // waits for blocks this step
    std::vector<int32_t> toks(n);
    for (int64_t i = 0; i < n; ++i) toks[i] = s->TokenAt(s->computed + i);
    chunk_tokens.push_back(std::move(toks));
    SequenceChunk c;
    c.token_ids = chunk_tokens.back().data();
    c.num_tokens = n;
    c.start_pos = s->computed;
    c.blocks = &s->blocks;
    c.want_logits = s->computed + n == s->length();
    chunks.push_back(c);
    owners.push_back(s);
    budget -= n;
  }
  if (chunks.empty()) return absl::OkStatus();
  absl::Status status = runner_->Forward(chunks, logits_.data());
  if (!status.ok()) return status;
  ++steps_;
  const int64_t vocab = runner_->config().vocab_size;
  int64_t row = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    Sequence* s = owners[i];
    s->computed += chunks[i].num_tokens;
    Publish(s);
    if (!chunks[i].want_logits) continue;
    const float* logits = logits_.data() + row++ * vocab;
    const int32_t token = s->sampler->Sample(logits, vocab, s->request.prompt, s->output);
    LoopEvent e;
    e.id = s->request.id;
    e.tokens.push_back(token);
    if (s->request.logprobs > 0) {
      e.logprobs.push_back(ComputeLogprobs(logits, vocab, token, s->request.logprobs));
    }
    s->output.push_back(token);
    ++generated_;
    sink_(std::move(e));
  }
  for (auto& s : running_) {
    if (s->output.empty() || s->computed != s->length() - 1) continue;
    const int32_t last = s->output.back();
    const auto& stops = s->request.stop_ids;
    if (std::find(stops.begin(), stops.end(), last) != stops.end()) {
      Finish(s, "stop", absl::OkStatus());
    } else if (static_cast<int64_t>(s->output.size()) >= s->request.max_tokens) {
      Finish(s, "length", absl::OkStatus());
    }
  }
  std::erase(running_, nullptr);
  return absl::OkStatus();
}

void BatchLoop::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto work = [this] { return stop_ || !inbox_.empty() || !aborts_.empty(); };
      if (running_.empty() && waiting_.empty()) {
        mu_.AwaitWithTimeout(absl::Condition(&work), absl::Milliseconds(100));
      }
      if (stop_) break;
    }
    DrainInbox();
    Admit();
    const absl::Status status = Step();
    if (!status.ok()) {
      // A failed step (e.g. an expert shard lost) fails the requests in it; others wait.
      LOG(ERROR) << "step failed: " << status;
      for (auto& s : running_) Finish(s, "", status);
      running_.clear();
    }
    PublishLoad();
  }
  const absl::Status stopped = absl::CancelledError("the worker is shutting down");
  DrainInbox();
  for (auto& s : running_) Finish(s, "", stopped);
  for (auto& s : waiting_) Finish(s, "", stopped);
  running_.clear();
  waiting_.clear();
  PublishLoad();
}

}  // namespace moeserve
