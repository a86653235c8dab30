#include "expert_shard/shard_server.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"

namespace moeserve {

absl::Status ShardServerOptions::Validate() const {
  if (posted_receives <= 0) {
    return absl::InvalidArgumentError("ShardServer: posted_receives must be positive");
  }
  if (batch_window < absl::ZeroDuration() || idle_sleep < absl::ZeroDuration() || spin_polls < 0) {
    return absl::InvalidArgumentError(
        "ShardServer: negative batch_window, idle_sleep or spin_polls");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ShardServer>> ShardServer::Create(const ModelConfig& config,
                                                                 const ExpertStore* store,
                                                                 ExpertCompute* compute,
                                                                 Transport* transport,
                                                                 ShardServerOptions options) {
  if (store == nullptr || compute == nullptr || transport == nullptr) {
    return absl::InvalidArgumentError("ShardServer: null store, compute or transport");
  }
  RETURN_IF_ERROR(options.Validate());
  if (store->num_owned() == 0) return absl::InvalidArgumentError("ShardServer: hosts no expert");
  return std::unique_ptr<ShardServer>(
      new ShardServer(config, store, compute, transport, std::move(options)));
}

ShardServer::ShardServer(const ModelConfig& config, const ExpertStore* store,
                         ExpertCompute* compute, Transport* transport, ShardServerOptions options)
    : config_(config),
      store_(store),
      compute_(compute),
      transport_(transport),
      options_(std::move(options)) {
  for (int64_t e = 0; e < config_.num_experts; ++e) {
    if (!store_->owns(e)) {
      filler_expert_ = static_cast<int32_t>(e);
      break;
    }
  }
}

ShardServer::~ShardServer() {
  for (Request& r : receives_) {
    if (r.valid()) transport_->Cancel(r);
  }
  // Replies in flight own their buffers; let them finish (bounded) before those go.
  const absl::Time deadline = absl::Now() + absl::Seconds(1);
  while (!outgoing_.empty()) {
    ReapOutgoing();
    if (outgoing_.empty()) break;
    if (absl::Now() > deadline) {
      transport_->Abort(absl::AbortedError("ShardServer destroyed with answers in flight"));
      ReapOutgoing();
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

ShardServerStats ShardServer::stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

std::vector<std::byte> ShardServer::TakeBuffer() {
  if (spare_.empty()) return {};
  std::vector<std::byte> buffer = std::move(spare_.back());
  spare_.pop_back();
  return buffer;
}

absl::Status ShardServer::Serve() {
  int idle = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    ASSIGN_OR_RETURN(bool busy, Poll());
    if (busy) {
      idle = 0;
    } else if (++idle > options_.spin_polls) {
      transport_->WaitForEvent(options_.idle_sleep);
    }
  }
  for (Request& r : receives_) {
    if (r.valid()) transport_->Cancel(r);
    r = {};
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(1);
  while (!outgoing_.empty() && absl::Now() < deadline) {
    transport_->Progress();
    ReapOutgoing();
  }
  stop_.store(false, std::memory_order_relaxed);  // served again, it runs until the next Stop
  return absl::OkStatus();
}

absl::StatusOr<bool> ShardServer::Poll() {
  if (receives_.empty()) {
    receives_.resize(options_.posted_receives);
    receive_buffers_.resize(options_.posted_receives);
  }
  bool busy = false;
  for (size_t i = 0; i < receives_.size(); ++i) {
    if (!receives_[i].valid()) {
      ASSIGN_OR_RETURN(receives_[i],
                       transport_->Irecv(a2a::kDispatchTag, ~0u, &receive_buffers_[i]));
    }
  }
  transport_->Progress();
  for (size_t i = 0; i < receives_.size(); ++i) {
    Completion done;
    if (!transport_->Test(receives_[i], &done)) continue;
    receives_[i] = {};
    busy = true;
    RETURN_IF_ERROR(Receive(i, done));
  }
  busy |= ReapOutgoing();
  if (!pending_.empty() && absl::Now() - first_pending_ >= options_.batch_window) {
    // Layers in order of first arrival; messages in arrival order within a layer.
    while (!pending_.empty()) ComputeLayer(pending_.front().view.header.layer);
    busy = true;
    absl::MutexLock lock(&stats_mu_);
    stats_ = local_stats_;
  }
  return busy;
}

absl::Status ShardServer::Receive(size_t slot, const Completion& done) {
  if (!done.status.ok()) {
    // A receive fails only when the transport is aborted (receives take any peer).
    return done.status;
  }
  std::vector<std::byte>& buffer = receive_buffers_[slot];
  local_stats_.bytes_received += static_cast<int64_t>(buffer.size());
  auto view = a2a::ParseDispatch(buffer);
  absl::Status valid = view.ok() ? Validate(*view) : view.status();
  if (!valid.ok()) {
    Reject(done.peer, buffer, valid);
    return absl::OkStatus();
  }
  if (pending_.empty()) first_pending_ = absl::Now();
  pending_.push_back({done.peer, std::move(buffer), *view});
  buffer = TakeBuffer();
  return absl::OkStatus();
}

absl::Status ShardServer::Validate(const a2a::DispatchView& m) const {
  const a2a::Header& h = m.header;
  if (h.shard != options_.shard_index) {
    return absl::InvalidArgumentError(absl::StrCat("dispatch addressed to shard ", h.shard,
                                                   ", this is shard ", options_.shard_index));
  }
  if (h.hidden != config_.hidden_size || h.top_k != config_.num_experts_per_tok) {
    return absl::InvalidArgumentError(absl::StrCat("dispatch shape hidden ", h.hidden, ", top_k ",
                                                   h.top_k, "; the model has ", config_.hidden_size,
                                                   ", ", config_.num_experts_per_tok));
  }
  if (h.layer < 0 || h.layer >= config_.num_hidden_layers || !config_.IsMoeLayer(h.layer)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dispatch for layer ", h.layer, ", not a MoE layer of the model"));
  }
  if (h.rows == 0) return absl::InvalidArgumentError("dispatch with no rows");
  const int64_t k = h.top_k;
  for (int64_t i = 0; i < h.rows; ++i) {
    const a2a::RowTag tag = m.tags[i];
    if (tag.source_rank != h.source_rank || (i > 0 && tag.token <= m.tags[i - 1].token)) {
      return absl::InvalidArgumentError(
          absl::StrCat("dispatch row ", i, " tagged (rank ", tag.source_rank, ", token ", tag.token,
                       ") in a message from rank ", h.source_rank, " (tokens must ascend)"));
    }
    bool hosted = false;
    for (int64_t s = 0; s < k; ++s) {
      const int32_t e = m.ids[i * k + s];
      if (e == -1) continue;
      if (e < 0 || e >= config_.num_experts || !store_->owns(e)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dispatch row ", i, " (rank ", tag.source_rank, ", token ", tag.token, ") slot ", s,
            ": expert ", e, " is not hosted on shard ", options_.shard_index));
      }
      hosted = true;
    }
    if (!hosted) {
      return absl::InvalidArgumentError(absl::StrCat("dispatch row ", i, " (rank ", tag.source_rank,
                                                     ", token ", tag.token,
                                                     ") has no slot hosted here"));
    }
  }
  return absl::OkStatus();
}

void ShardServer::ComputeLayer(int64_t layer) {
  const int64_t hidden = config_.hidden_size, k = config_.num_experts_per_tok;
  group_.clear();
  int64_t rows = 0;
  uint32_t first_rank = 0;
  bool multi_source = false;
  for (size_t i = 0; i < pending_.size(); ++i) {
    const a2a::Header& h = pending_[i].view.header;
    if (h.layer != layer) continue;
    if (group_.empty()) first_rank = h.source_rank;
    multi_source |= h.source_rank != first_rank;
    group_.push_back(i);
    rows += h.rows;
  }
  // One message: compute from it and into its answer in place. Several: concatenate.
  const bool single = group_.size() == 1;
  std::vector<std::byte> single_answer;
  a2a::MutableCombineView single_view;
  if (single) {
    single_answer = TakeBuffer();
    single_view = a2a::StartCombine(pending_[group_[0]].view.header, &single_answer);
  } else {
    x_.resize(rows * hidden);
    weights_.resize(rows * k);
    out_.resize(rows * hidden);
  }
  ids_.resize(rows * k);
  int64_t row = 0;
  for (size_t i : group_) {
    const a2a::DispatchView& m = pending_[i].view;
    const int64_t n = m.header.rows;
    if (!single) {
      std::memcpy(x_.data() + row * hidden, m.x, n * hidden * sizeof(float));
      std::memcpy(weights_.data() + row * k, m.weights, n * k * sizeof(float));
    }
    for (int64_t j = 0; j < n * k; ++j) {
      // A slot placed elsewhere becomes an expert not hosted here, which ExpertCompute skips.
      ids_[row * k + j] = m.ids[j] == -1 ? filler_expert_ : m.ids[j];
    }
    row += n;
  }
  MoeLayerBatch batch;
  batch.layer = layer;
  batch.tokens = rows;
  batch.hidden = hidden;
  batch.top_k = k;
  batch.x = single ? pending_[group_[0]].view.x : x_.data();
  batch.topk_ids = ids_.data();
  batch.topk_weights = single ? pending_[group_[0]].view.weights : weights_.data();
  batch.out = single ? single_view.partial : out_.data();
  const absl::Status computed = compute_->Run(batch);
  if (computed.ok()) {
    ++local_stats_.expert_calls;
    local_stats_.rows += rows;
    local_stats_.messages += static_cast<int64_t>(group_.size());
    local_stats_.max_rows_per_call = std::max(local_stats_.max_rows_per_call, rows);
    local_stats_.max_messages_per_call =
        std::max<int64_t>(local_stats_.max_messages_per_call, group_.size());
    local_stats_.multi_source_calls += multi_source;
  } else {
    LOG(ERROR) << "expert shard " << options_.shard_index << ": layer " << layer << ": "
               << computed;
  }

  row = 0;
  for (size_t i : group_) {
    Pending& p = pending_[i];
    const a2a::Header& h = p.view.header;
    if (!computed.ok()) {
      Reject(p.peer, p.message, computed);
      continue;
    }
    if (single) {
      std::memcpy(single_view.tags, p.view.tags, h.rows * sizeof(a2a::RowTag));
      Reply(p.peer, std::move(single_answer));
      continue;
    }
    std::vector<std::byte> answer = TakeBuffer();
    a2a::MutableCombineView c = a2a::StartCombine(h, &answer);
    std::memcpy(c.tags, p.view.tags, h.rows * sizeof(a2a::RowTag));
    std::memcpy(c.partial, out_.data() + row * hidden, h.rows * hidden * sizeof(double));
    row += h.rows;
    Reply(p.peer, std::move(answer));
  }
  if (single && !single_answer.empty()) spare_.push_back(std::move(single_answer));
  // Drop the group from pending_, recycling its buffers; order of the rest is kept.
  size_t kept = 0, g = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (g < group_.size() && group_[g] == i) {
      ++g;
      spare_.push_back(std::move(pending_[i].message));
    } else {
      if (kept != i) pending_[kept] = std::move(pending_[i]);
      ++kept;
    }
  }
  pending_.resize(kept);
}

void ShardServer::Reply(PeerId peer, std::vector<std::byte> message) {
  local_stats_.bytes_sent += static_cast<int64_t>(message.size());
  Outgoing out;
  out.message = std::move(message);
  auto request = transport_->Isend(peer, a2a::kCombineTag, out.message);
  if (!request.ok()) {
    // The worker is gone or the transport aborted; the worker's own timeout reports it.
    LOG(WARNING) << "expert shard " << options_.shard_index << ": answer to peer " << peer
                 << " not sent: " << request.status();
    spare_.push_back(std::move(out.message));
    return;
  }
  out.request = *request;
  outgoing_.push_back(std::move(out));
}

void ShardServer::Reject(PeerId peer, std::span<const std::byte> message,
                         const absl::Status& error) {
  ++local_stats_.rejected;
  a2a::Header echo;
  echo.sequence = 0;  // unknown: the worker takes it as its current Run's
  if (message.size() >= sizeof(a2a::Header)) {
    a2a::Header h;
    std::memcpy(&h, message.data(), sizeof(h));
    if (h.magic == a2a::kMagic) echo = h;
  }
  LOG(WARNING) << "expert shard " << options_.shard_index << ": rejected a message from peer "
               << peer << ": " << error;
  std::vector<std::byte> answer = TakeBuffer();
  a2a::WriteError(echo,
                  absl::Status(error.code(), absl::StrCat("expert shard ", options_.shard_index,
                                                          ": ", error.message())),
                  &answer);
  Reply(peer, std::move(answer));
  absl::MutexLock lock(&stats_mu_);
  stats_ = local_stats_;
}

bool ShardServer::ReapOutgoing() {
  bool any = false;
  for (size_t i = 0; i < outgoing_.size();) {
    Completion done;
    if (!transport_->Test(outgoing_[i].request, &done)) {
      ++i;
      continue;
    }
    any = true;
    if (!done.status.ok()) {
      LOG(WARNING) << "expert shard " << options_.shard_index << ": answer to peer " << done.peer
                   << " failed: " << done.status;
    }
    spare_.push_back(std::move(outgoing_[i].message));
    outgoing_[i] = std::move(outgoing_.back());
    outgoing_.pop_back();
  }
  return any;
}

}  // namespace moeserve
