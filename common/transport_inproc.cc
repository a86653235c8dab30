#include "common/transport_inproc.h"

#include <atomic>
#include <cstring>
#include <deque>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/transport_requests.h"

namespace moeserve {

struct InProcessFabric::Mailbox {
  struct Envelope {
    uint64_t from = 0;
    uint32_t tag = 0;
    std::vector<std::byte> data;
  };
  absl::Mutex mu;
  std::deque<Envelope> messages ABSL_GUARDED_BY(mu);
  bool closed ABSL_GUARDED_BY(mu) = false;
};

namespace {

std::atomic<uint32_t> next_fabric_id{1};

// Address layout: magic, fabric id, endpoint id.
constexpr uint32_t kAddressMagic = 0x50494d53;  // "SMIP"
constexpr size_t kAddressSize = 16;

}  // namespace

InProcessFabric::InProcessFabric() : fabric_id_(next_fabric_id.fetch_add(1)) {}

uint64_t InProcessFabric::Register(std::shared_ptr<Mailbox> mailbox) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_endpoint_++;
  endpoints_[id] = mailbox;
  return id;
}

void InProcessFabric::Unregister(uint64_t endpoint) {
  absl::MutexLock lock(&mu_);
  endpoints_.erase(endpoint);
}

std::shared_ptr<InProcessFabric::Mailbox> InProcessFabric::Find(uint64_t endpoint) {
  absl::MutexLock lock(&mu_);
  auto it = endpoints_.find(endpoint);
  return it == endpoints_.end() ? nullptr : it->second.lock();
}

class InProcessTransport final : public Transport {
 public:
  explicit InProcessTransport(std::shared_ptr<InProcessFabric> fabric)
      : fabric_(std::move(fabric)), mailbox_(std::make_shared<InProcessFabric::Mailbox>()) {
    endpoint_ = fabric_->Register(mailbox_);
    const uint32_t magic = kAddressMagic, fabric_id = fabric_->fabric_id_;
    address_.resize(kAddressSize);
    std::memcpy(address_.data(), &magic, 4);
    std::memcpy(address_.data() + 4, &fabric_id, 4);
    std::memcpy(address_.data() + 8, &endpoint_, 8);
  }

  ~InProcessTransport() override {
    {
      absl::MutexLock lock(&mailbox_->mu);
      mailbox_->closed = true;
      mailbox_->messages.clear();
    }
    fabric_->Unregister(endpoint_);
  }

  std::string_view name() const override { return "inproc"; }
  std::span<const std::byte> LocalAddress() const override { return address_; }

  absl::StatusOr<PeerId> Connect(std::span<const std::byte> address) override {
    if (!aborted_.ok()) return aborted_;
    uint32_t magic = 0, fabric_id = 0;
    uint64_t endpoint = 0;
    if (address.size() == kAddressSize) {
      std::memcpy(&magic, address.data(), 4);
      std::memcpy(&fabric_id, address.data() + 4, 4);
      std::memcpy(&endpoint, address.data() + 8, 8);
    }
    if (magic != kAddressMagic) {
      return absl::InvalidArgumentError("inproc transport: not an in-process address");
    }
    if (fabric_id != fabric_->fabric_id_) {
      return absl::InvalidArgumentError("inproc transport: address of another fabric");
    }
    if (endpoint == endpoint_) {
      return absl::InvalidArgumentError("inproc transport: cannot connect to itself");
    }
    return PeerFor(endpoint);
  }

  absl::StatusOr<std::unique_ptr<MemoryRegion>> RegisterMemory(void* data, size_t size) override {
    return std::make_unique<MemoryRegion>();  // nothing to pin: messages are copied
  }

  absl::StatusOr<Request> Isend(PeerId peer, uint32_t tag,
                                std::span<const std::byte> data) override {
    if (!aborted_.ok()) return aborted_;
    if (peer < 0 || peer >= static_cast<PeerId>(peers_.size())) {
      return absl::InvalidArgumentError(absl::StrCat("inproc transport: unknown peer ", peer));
    }
    auto [id, op] = ops_.Acquire();
    op->send = true;
    op->done = true;
    op->completion.peer = peer;
    op->completion.tag = tag;
    op->completion.bytes = data.size();
    Peer& p = peers_[peer];
    if (p.status.ok()) {
      bool delivered = false;
      if (p.mailbox != nullptr) {
        absl::MutexLock lock(&p.mailbox->mu);
        if (!p.mailbox->closed) {
          p.mailbox->messages.push_back(
              {endpoint_, tag, std::vector<std::byte>(data.begin(), data.end())});
          delivered = true;
        }
      }
      if (!delivered) Fail(p, PeerGone(peer));
    }
    op->completion.status = p.status;
    return Request{id};
  }

  absl::StatusOr<Request> Irecv(uint32_t tag, uint32_t mask,
                                std::vector<std::byte>* buffer) override {
    if (!aborted_.ok()) return aborted_;
    auto [id, op] = ops_.Acquire();
    op->tag = tag;
    op->mask = mask;
    op->buffer = buffer;
    posted_.push_back(id);
    return Request{id};
  }

  void Progress() override {
    if (!posted_.empty()) {
      // Collect matches under the lock; resolve senders to peers after (PeerFor takes the
      // fabric's lock).
      matched_.clear();
      {
        absl::MutexLock lock(&mailbox_->mu);
        auto& messages = mailbox_->messages;
        for (auto it = posted_.begin(); it != posted_.end() && !messages.empty();) {
          Op* op = ops_.Find(*it);
          auto m = messages.begin();
          while (m != messages.end() && ((m->tag ^ op->tag) & op->mask) != 0) ++m;
          if (m == messages.end()) {
            ++it;
            continue;
          }
          op->buffer->swap(m->data);
          op->completion.tag = m->tag;
          op->completion.bytes = op->buffer->size();
          op->done = true;
          matched_.push_back({*it, m->from});
          messages.erase(m);
          it = posted_.erase(it);
        }
      }
      for (const auto& [id, from] : matched_) ops_.Find(id)->completion.peer = PeerFor(from);
    }
    for (size_t i = 0; i < peers_.size(); ++i) {
      Peer& p = peers_[i];
      if (!p.status.ok()) continue;
      bool closed = p.mailbox == nullptr;
      if (!closed) {
        absl::MutexLock lock(&p.mailbox->mu);
        closed = p.mailbox->closed;
      }
      if (closed) Fail(p, PeerGone(static_cast<PeerId>(i)));
    }
  }

  bool Test(Request request, Completion* completion) override {
    Op* op = ops_.Find(request.id);
    MOESERVE_TRANSPORT_CHECK(op != nullptr, "Test of an unknown request");
    if (!op->done) Progress();
    if (!op->done) return false;
    *completion = std::move(op->completion);
    ops_.Release(request.id);
    return true;
  }

  void Cancel(Request request) override {
    Op* op = ops_.Find(request.id);
    MOESERVE_TRANSPORT_CHECK(op != nullptr, "Cancel of an unknown request");
    MOESERVE_TRANSPORT_CHECK(!op->send, "Cancel of a send");
    std::erase(posted_, request.id);
    ops_.Release(request.id);
  }

  absl::Status PeerStatus(PeerId peer) const override {
    if (peer < 0 || peer >= static_cast<PeerId>(peers_.size())) {
      return absl::InvalidArgumentError(absl::StrCat("inproc transport: unknown peer ", peer));
    }
    return peers_[peer].status;
  }

  void Abort(absl::Status reason) override {
    if (reason.ok()) reason = absl::CancelledError("inproc transport aborted");
    if (!aborted_.ok()) return;
    aborted_ = reason;
    for (uint64_t id : posted_) {
      Op* op = ops_.Find(id);
      op->done = true;
      op->completion.status = reason;
    }
    posted_.clear();
    for (Peer& p : peers_) Fail(p, reason);
  }

 private:
  struct Peer {
    uint64_t endpoint = 0;
    std::shared_ptr<InProcessFabric::Mailbox> mailbox;
    absl::Status status;
  };
  struct Op {
    bool send = false;
    bool done = false;
    Completion completion;
    uint32_t tag = 0, mask = 0;
    std::vector<std::byte>* buffer = nullptr;
  };

  static absl::Status PeerGone(PeerId peer) {
    return absl::UnavailableError(
        absl::StrCat("inproc transport: peer ", peer, " is gone (its endpoint was destroyed)"));
  }
  void Fail(Peer& p, const absl::Status& status) {
    if (p.status.ok()) p.status = status;
    p.mailbox.reset();
  }

  PeerId PeerFor(uint64_t endpoint) {
    auto it = by_endpoint_.find(endpoint);
    if (it != by_endpoint_.end()) return it->second;
    const PeerId id = static_cast<PeerId>(peers_.size());
    Peer p;
    p.endpoint = endpoint;
    p.mailbox = fabric_->Find(endpoint);
    if (p.mailbox == nullptr) p.status = PeerGone(id);
    if (!aborted_.ok()) p.status = aborted_;
    peers_.push_back(std::move(p));
    by_endpoint_[endpoint] = id;
    return id;
  }

  const std::shared_ptr<InProcessFabric> fabric_;
  const std::shared_ptr<InProcessFabric::Mailbox> mailbox_;
  uint64_t endpoint_ = 0;
  std::vector<std::byte> address_;
  absl::Status aborted_;
  std::vector<Peer> peers_;
  std::map<uint64_t, PeerId> by_endpoint_;
  transport_internal::RequestTable<Op> ops_;
  std::vector<uint64_t> posted_;  // receives not yet matched, in posting order
  std::vector<std::pair<uint64_t, uint64_t>> matched_;  // scratch: (request, sender endpoint)
};

std::unique_ptr<Transport> MakeInProcessTransport(std::shared_ptr<InProcessFabric> fabric) {
  return std::make_unique<InProcessTransport>(std::move(fabric));
}

}  // namespace moeserve
