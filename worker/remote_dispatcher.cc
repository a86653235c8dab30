#include "worker/remote_dispatcher.h"

#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "common/transport_a2a.h"

namespace moeserve {

struct RemoteDispatcher::Shard {
  PeerId peer = -1;
  std::vector<std::byte> message;  // this Run's dispatch (kept until its send completes)
  Request send;                    // valid while the send is in flight
  std::vector<int32_t> tokens;     // this Run's rows: token indices, ascending
  bool answered = false;
  a2a::CombineView answer;
};

absl::Status RemoteDispatcherOptions::Validate() const {
  if (shards.empty()) return absl::InvalidArgumentError("RemoteDispatcher: no shards");
  if (num_experts <= 0) {
    return absl::InvalidArgumentError("RemoteDispatcher: num_experts must be positive");
  }
  if (timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("RemoteDispatcher: timeout must be positive");
  }
  if (spin_polls < 0 || idle_sleep < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("RemoteDispatcher: negative spin_polls or idle_sleep");
  }
  for (size_t i = 0; i < shards.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (shards[i] == shards[j]) {
        return absl::InvalidArgumentError(
            absl::StrCat("RemoteDispatcher: shards ", j, " and ", i, " are the same peer"));
      }
    }
  }
  if (!placement.empty()) {
    return a2a::ValidatePlacement(placement, num_experts, static_cast<int64_t>(shards.size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RemoteDispatcher>> RemoteDispatcher::Create(
    Transport* transport, RemoteDispatcherOptions options) {
  if (transport == nullptr) return absl::InvalidArgumentError("RemoteDispatcher: no transport");
  RETURN_IF_ERROR(options.Validate());
  for (PeerId peer : options.shards) {
    absl::Status status = transport->PeerStatus(peer);
    if (absl::IsInvalidArgument(status)) return status;  // unknown peer; a failed one may recover
  }
  if (options.placement.empty()) {
    options.placement = a2a::EvenPlacement(options.num_experts, options.shards.size());
  }
  return std::unique_ptr<RemoteDispatcher>(new RemoteDispatcher(transport, std::move(options)));
}

RemoteDispatcher::RemoteDispatcher(Transport* transport, RemoteDispatcherOptions options)
    : transport_(transport), options_(std::move(options)) {
  for (PeerId peer : options_.shards) {
    shards_.push_back(std::make_unique<Shard>());
    shards_.back()->peer = peer;
  }
}

RemoteDispatcher::~RemoteDispatcher() {
  CancelReceives();
  const absl::Time deadline = absl::Now() + options_.timeout;
  for (auto& shard : shards_) {
    Completion done;
    while (shard->send.valid() && !transport_->Test(shard->send, &done)) {
      if (absl::Now() > deadline) {
        transport_->Abort(
            absl::AbortedError("RemoteDispatcher destroyed with a dispatch still in flight"));
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
    shard->send = {};
  }
}

absl::Status RemoteDispatcher::ShardError(size_t shard, const absl::Status& status) const {
  return absl::Status(status.code(), absl::StrCat("expert shard ", shard, " (peer ",
                                                  shards_[shard]->peer, "): ", status.message()));
}

void RemoteDispatcher::CancelReceives() {
  for (Request& r : answer_requests_) {
    if (r.valid()) transport_->Cancel(r);
    r = {};
  }
}

absl::Status RemoteDispatcher::Run(const MoeLayerBatch& batch) {
  absl::Status status = RunLocked(batch);
  if (!status.ok()) CancelReceives();
  return status;
}

absl::Status RemoteDispatcher::RunLocked(const MoeLayerBatch& batch) {
  if (batch.tokens < 0 || batch.hidden <= 0 || batch.top_k <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("RemoteDispatcher: bad batch shape (tokens ",
                                                   batch.tokens, ", hidden ", batch.hidden,
                                                   ", top_k ", batch.top_k, ")"));
  }
  if (batch.tokens == 0) return absl::OkStatus();
  if (batch.x == nullptr || batch.topk_ids == nullptr || batch.topk_weights == nullptr ||
      batch.out == nullptr) {
    return absl::InvalidArgumentError("RemoteDispatcher: null batch array");
  }
  const int64_t tokens = batch.tokens, hidden = batch.hidden, k = batch.top_k;
  const int32_t num_shards = static_cast<int32_t>(shards_.size());
  ++sequence_;
  ++stats_.runs;

  // A send of an earlier (failed) Run still in flight still owns its shard's message buffer.
  for (int32_t s = 0; s < num_shards; ++s) {
    Shard& shard = *shards_[s];
    Completion done;
    if (shard.send.valid() && transport_->Test(shard.send, &done)) shard.send = {};
    shard.tokens.clear();
    shard.answered = false;
  }

  // Which shards each token's rows go to.
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t slot = 0; slot < k; ++slot) {
      const int32_t e = batch.topk_ids[t * k + slot];
      if (e < 0 || e >= options_.num_experts) {
        return absl::InvalidArgumentError(absl::StrCat("RemoteDispatcher: token ", t, " slot ",
                                                       slot, " routes to expert ", e, " of ",
                                                       options_.num_experts));
      }
      auto& rows = shards_[options_.placement[e]]->tokens;
      if (rows.empty() || rows.back() != t) rows.push_back(static_cast<int32_t>(t));
    }
  }

  int pending = 0;
  for (int32_t s = 0; s < num_shards; ++s) {
    Shard& shard = *shards_[s];
    if (shard.tokens.empty()) continue;
    ++pending;
    if (shard.send.valid()) {
      return ShardError(
          s, absl::UnavailableError("a dispatch of an earlier step is still in flight to it"));
    }
    absl::Status peer = transport_->PeerStatus(shard.peer);
    if (!peer.ok()) return ShardError(s, peer);

    a2a::Header header;
    header.source_rank = options_.rank;
    header.shard = static_cast<uint32_t>(s);
    header.sequence = sequence_;
    header.layer = batch.layer;
    header.rows = static_cast<int64_t>(shard.tokens.size());
    header.hidden = hidden;
    header.top_k = k;
    a2a::MutableDispatchView m = a2a::StartDispatch(header, &shard.message);
    for (size_t i = 0; i < shard.tokens.size(); ++i) {
      const int64_t t = shard.tokens[i];
      m.tags[i] = {options_.rank, static_cast<uint32_t>(t)};
      std::memcpy(m.x + i * hidden, batch.x + t * hidden, hidden * sizeof(float));
      for (int64_t slot = 0; slot < k; ++slot) {
        const int32_t e = batch.topk_ids[t * k + slot];
        const bool here = options_.placement[e] == s;
        m.ids[i * k + slot] = here ? e : -1;
        m.weights[i * k + slot] = here ? batch.topk_weights[t * k + slot] : 0.0f;
      }
    }
  }

  // Post the answers' receives before sending, then send.
  if (answer_buffers_.size() < static_cast<size_t>(pending)) {
    answer_buffers_.resize(pending);
    answer_requests_.resize(pending);
  }
  for (int i = 0; i < pending; ++i) {
    ASSIGN_OR_RETURN(answer_requests_[i],
                     transport_->Irecv(a2a::kCombineTag, ~0u, &answer_buffers_[i]));
  }
  for (int32_t s = 0; s < num_shards; ++s) {
    Shard& shard = *shards_[s];
    if (shard.tokens.empty()) continue;
    auto send = transport_->Isend(shard.peer, a2a::kDispatchTag, shard.message);
    if (!send.ok()) return ShardError(s, send.status());
    shard.send = *send;
    ++stats_.messages_sent;
    stats_.rows_sent += static_cast<int64_t>(shard.tokens.size());
    stats_.bytes_sent += static_cast<int64_t>(shard.message.size());
  }

  RETURN_IF_ERROR(WaitForAnswers(batch, pending));

  // Combine in shard-index order (exact in double, so the order is for reproducibility of
  // anything that is not).
  std::fill(batch.out, batch.out + tokens * hidden, 0.0);
  for (int32_t s = 0; s < num_shards; ++s) {
    const Shard& shard = *shards_[s];
    if (shard.tokens.empty()) continue;
    const double* partial = shard.answer.partial;
    for (size_t i = 0; i < shard.tokens.size(); ++i) {
      double* out = batch.out + shard.tokens[i] * hidden;
      const double* p = partial + i * hidden;
      for (int64_t j = 0; j < hidden; ++j) out[j] += p[j];
    }
  }
  return absl::OkStatus();
}

absl::Status RemoteDispatcher::WaitForAnswers(const MoeLayerBatch& batch, int pending) {
  const absl::Time deadline = absl::Now() + options_.timeout;
  const int slots = pending;
  int idle = 0;
  while (pending > 0) {
    transport_->Progress();
    bool news = false;
    for (int i = 0; i < slots; ++i) {
      Completion done;
      if (!answer_requests_[i].valid() || !transport_->Test(answer_requests_[i], &done)) continue;
      answer_requests_[i] = {};
      news = true;
      RETURN_IF_ERROR(HandleAnswer(i, done, batch, &pending));
    }
    for (size_t s = 0; s < shards_.size(); ++s) {
      Shard& shard = *shards_[s];
      Completion done;
      if (shard.send.valid() && transport_->Test(shard.send, &done)) {
        shard.send = {};
        news = true;
        if (!done.status.ok()) return ShardError(s, done.status);
      }
      if (!shard.tokens.empty() && !shard.answered) {
        absl::Status peer = transport_->PeerStatus(shard.peer);
        if (!peer.ok()) return ShardError(s, peer);
      }
    }
    if (pending == 0) break;
    if (news) {
      idle = 0;
      continue;
    }
    if (absl::Now() > deadline) {
      std::vector<std::string> late;
      for (size_t s = 0; s < shards_.size(); ++s) {
        if (!shards_[s]->tokens.empty() && !shards_[s]->answered) {
          late.push_back(absl::StrCat(s, " (peer ", shards_[s]->peer, ")"));
        }
      }
      return absl::DeadlineExceededError(
          absl::StrCat("RemoteDispatcher: no answer for layer ", batch.layer, " from expert shard",
                       late.size() > 1 ? "s " : " ", absl::StrJoin(late, ", "), " within ",
                       absl::FormatDuration(options_.timeout)));
    }
    if (++idle > options_.spin_polls) transport_->WaitForEvent(options_.idle_sleep);
  }
  return absl::OkStatus();
}

absl::Status RemoteDispatcher::HandleAnswer(size_t slot, const Completion& done,
                                            const MoeLayerBatch& batch, int* pending) {
  int32_t s = -1;
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i]->peer == done.peer) s = static_cast<int32_t>(i);
  }
  if (!done.status.ok()) {
    if (s >= 0) return ShardError(s, done.status);
    return absl::Status(done.status.code(),
                        absl::StrCat("RemoteDispatcher: receive failed: ", done.status.message()));
  }
  stats_.bytes_received += static_cast<int64_t>(done.bytes);
  auto repost = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(answer_requests_[slot],
                     transport_->Irecv(a2a::kCombineTag, ~0u, &answer_buffers_[slot]));
    return absl::OkStatus();
  };
  if (s < 0) return repost();  // not from a shard of ours: not for us
  Shard& shard = *shards_[s];
  const auto header = a2a::ReadHeader(answer_buffers_[slot]);
  if (!header.ok()) {
    return ShardError(
        s, absl::DataLossError(absl::StrCat("malformed answer: ", header.status().message())));
  }
  // An answer to an earlier, failed Run is stale; an error the shard could not attribute to a
  // Run (sequence 0: it could not read our header) is taken as this Run's.
  const bool unattributed_error =
      header->kind == static_cast<uint16_t>(a2a::Kind::kError) && header->sequence == 0;
  if (header->sequence != sequence_ && !unattributed_error) {
    ++stats_.stale_replies;
    return repost();
  }
  auto answer = a2a::ParseCombine(answer_buffers_[slot]);
  if (!answer.ok()) {
    return ShardError(
        s, absl::Status(answer.status().code(), absl::StrCat("rejected layer ", batch.layer, ": ",
                                                             answer.status().message())));
  }
  const a2a::Header& h = answer->header;
  const int64_t rows = static_cast<int64_t>(shard.tokens.size());
  if (shard.tokens.empty() || shard.answered || h.source_rank != options_.rank ||
      h.shard != static_cast<uint32_t>(s) || h.layer != batch.layer || h.rows != rows ||
      h.hidden != batch.hidden) {
    return ShardError(s, absl::InternalError(absl::StrCat(
                             "answer does not match the dispatch (rank ", h.source_rank, ", shard ",
                             h.shard, ", layer ", h.layer, ", rows ", h.rows, ", hidden ", h.hidden,
                             "; expected ", options_.rank, ", ", s, ", ", batch.layer, ", ", rows,
                             ", ", batch.hidden, shard.answered ? "; answered twice" : "", ")")));
  }
  for (int64_t i = 0; i < rows; ++i) {
    const a2a::RowTag tag = answer->tags[i];
    if (tag.source_rank != options_.rank || tag.token != static_cast<uint32_t>(shard.tokens[i])) {
      return ShardError(
          s, absl::InternalError(absl::StrCat(
                 "answer row ", i, " is tagged (rank ", tag.source_rank, ", token ", tag.token,
                 "), expected (", options_.rank, ", ", shard.tokens[i], ")")));
    }
  }
  shard.answer = *answer;
  shard.answered = true;
  --*pending;
  return absl::OkStatus();
}

}  // namespace moeserve
