#include "common/transport_ucx.h"

#include <ucp/api/ucp.h>

#include <poll.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/transport_requests.h"

namespace moeserve {
namespace {

// ---- UCX status codes, converted at the call site by one macro ----------------------------

absl::Status UcxError(ucs_status_t status, const char* what) {
  const std::string message = absl::StrCat("ucx: ", what, ": ", ucs_status_string(status));
  switch (status) {
    case UCS_OK:
      return absl::OkStatus();
    case UCS_ERR_NO_MEMORY:
    case UCS_ERR_NO_RESOURCE:
    case UCS_ERR_EXCEEDS_LIMIT:
      return absl::ResourceExhaustedError(message);
    case UCS_ERR_INVALID_PARAM:
    case UCS_ERR_INVALID_ADDR:
      return absl::InvalidArgumentError(message);
    case UCS_ERR_UNSUPPORTED:
      return absl::UnimplementedError(message);
    case UCS_ERR_TIMED_OUT:
      return absl::DeadlineExceededError(message);
    case UCS_ERR_CANCELED:
      return absl::CancelledError(message);
    case UCS_ERR_UNREACHABLE:
    case UCS_ERR_NO_DEVICE:
    case UCS_ERR_CONNECTION_RESET:
    case UCS_ERR_ENDPOINT_TIMEOUT:
    case UCS_ERR_NOT_CONNECTED:
    case UCS_ERR_REJECTED:
    case UCS_ERR_IO_ERROR:
    case UCS_ERR_SOME_CONNECTS_FAILED:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

#define MOESERVE_UCX_RETURN_IF_ERROR(call)                              \
  do {                                                                  \
    const ucs_status_t _moeserve_ucs = (call);                          \
    if (_moeserve_ucs != UCS_OK) return UcxError(_moeserve_ucs, #call); \
  } while (0)

// ---- Every UCX handle owned by a unique_ptr with a deleter ---------------------------------

struct ConfigDeleter {
  void operator()(ucp_config_t* config) const { ucp_config_release(config); }
};
struct ContextDeleter {
  void operator()(ucp_context_h context) const { ucp_cleanup(context); }
};
struct WorkerDeleter {
  void operator()(ucp_worker_h worker) const { ucp_worker_destroy(worker); }
};
struct AddressDeleter {
  ucp_worker_h worker;
  void operator()(ucp_address_t* address) const { ucp_worker_release_address(worker, address); }
};
struct MemDeleter {
  ucp_context_h context;
  void operator()(ucp_mem_h memh) const { ucp_mem_unmap(context, memh); }
};
// A request is freed only once complete (the transport never frees one in flight).
struct RequestDeleter {
  void operator()(void* request) const { ucp_request_free(request); }
};
// Force-closes the endpoint (which fails what is in flight on it) and progresses the worker
// until the close completes.
struct EpDeleter {
  ucp_worker_h worker;
  void operator()(ucp_ep_h ep) const {
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags = UCP_EP_CLOSE_FLAG_FORCE;
    ucs_status_ptr_t request = ucp_ep_close_nbx(ep, &param);
    if (request == nullptr || UCS_PTR_IS_ERR(request)) return;
    for (int i = 0; i < 1000000 && ucp_request_check_status(request) == UCS_INPROGRESS; ++i) {
      ucp_worker_progress(worker);
    }
    ucp_request_free(request);
  }
};

using ConfigPtr = std::unique_ptr<ucp_config_t, ConfigDeleter>;
using ContextPtr = std::unique_ptr<std::remove_pointer_t<ucp_context_h>, ContextDeleter>;
using WorkerPtr = std::unique_ptr<std::remove_pointer_t<ucp_worker_h>, WorkerDeleter>;
using AddressPtr = std::unique_ptr<ucp_address_t, AddressDeleter>;
using MemPtr = std::unique_ptr<std::remove_pointer_t<ucp_mem_h>, MemDeleter>;
using RequestPtr = std::unique_ptr<void, RequestDeleter>;
using EpPtr = std::unique_ptr<std::remove_pointer_t<ucp_ep_h>, EpDeleter>;

class UcxMemoryRegion final : public MemoryRegion {
 public:
  explicit UcxMemoryRegion(MemPtr memh) : memh_(std::move(memh)) {}

 private:
  MemPtr memh_;
};

// ---- Tags and control messages -------------------------------------------------------------

// 64-bit UCX tag: kind (4 bits) | the receiver's id for the sender (28) | user tag (32).
enum Kind : uint64_t { kData = 1, kHello = 2, kBye = 3 };
constexpr int kKindShift = 60;
constexpr uint64_t kKindMask = uint64_t{0xf} << kKindShift;
constexpr uint64_t kStampMask = (uint64_t{1} << 28) - 1;
constexpr PeerId kMaxPeers = static_cast<PeerId>(kStampMask);

uint64_t MakeTag(uint64_t kind, uint32_t stamp, uint32_t user) {
  return (kind << kKindShift) | ((stamp & kStampMask) << 32) | user;
}
uint32_t StampOf(ucp_tag_t tag) { return static_cast<uint32_t>((tag >> 32) & kStampMask); }
uint64_t KindOf(ucp_tag_t tag) { return tag >> kKindShift; }

// Address: magic, length, the UCP worker address.
constexpr uint32_t kAddressMagic = 0x41584355;  // "UCXA"
// Hello: magic, the sender's PeerId for the receiver, then the sender's address.
constexpr uint32_t kHelloMagic = 0x48584355;  // "UCXH"

}  // namespace

absl::Status UcxTransportOptions::Validate() const {
  if (keepalive_interval <= absl::ZeroDuration() || peer_timeout <= absl::ZeroDuration() ||
      close_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "UcxTransportOptions: keepalive_interval and peer_timeout must be positive, "
        "close_timeout non-negative");
  }
  for (const auto& [name, value] : config) {
    if (name.empty() || name.rfind("UCX_", 0) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("UcxTransportOptions: bad config name '", name, "' (no UCX_ prefix)"));
    }
  }
  return absl::OkStatus();
}

namespace {

class UcxTransport final : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<Transport>> Create(const UcxTransportOptions& options) {
    RETURN_IF_ERROR(options.Validate());
    std::unique_ptr<UcxTransport> t(new UcxTransport(options));
    RETURN_IF_ERROR(t->Init());
    return std::unique_ptr<Transport>(std::move(t));
  }

  ~UcxTransport() override {
    if (aborted_.ok()) SayGoodbye();
    Abort(absl::CancelledError("ucx transport destroyed"));
    // Members go in reverse order: requests and endpoints before the worker and context.
  }

  std::string_view name() const override { return "ucx"; }
  std::span<const std::byte> LocalAddress() const override { return address_; }

  absl::StatusOr<PeerId> Connect(std::span<const std::byte> address) override {
    if (!aborted_.ok()) return aborted_;
    RETURN_IF_ERROR(CheckAddress(address));
    std::vector<std::byte> key(address.begin(), address.end());
    if (key == address_) {
      return absl::InvalidArgumentError("ucx transport: cannot connect to itself");
    }
    auto it = by_address_.find(key);
    if (it != by_address_.end()) return it->second;
    ASSIGN_OR_RETURN(PeerId id, AddPeer(std::move(key)));
    SendHello(*peers_[id]);
    return id;
  }

  absl::StatusOr<std::unique_ptr<MemoryRegion>> RegisterMemory(void* data, size_t size) override {
    ucp_mem_map_params_t params{};
    params.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH;
    params.address = data;
    params.length = size;
    ucp_mem_h memh = nullptr;
    MOESERVE_UCX_RETURN_IF_ERROR(ucp_mem_map(context_.get(), &params, &memh));
    return std::make_unique<UcxMemoryRegion>(MemPtr(memh, MemDeleter{context_.get()}));
  }

  absl::StatusOr<Request> Isend(PeerId peer, uint32_t tag,
                                std::span<const std::byte> data) override {
    if (!aborted_.ok()) return aborted_;
    if (peer < 0 || peer >= static_cast<PeerId>(peers_.size())) {
      return absl::InvalidArgumentError(absl::StrCat("ucx transport: unknown peer ", peer));
    }
    auto [id, op] = ops_.Acquire();
    op->kind = Op::kSend;
    op->data = data;
    op->completion.peer = peer;
    op->completion.tag = tag;
    op->completion.bytes = data.size();
    Peer& p = *peers_[peer];
    if (!p.status.ok()) {
      Finish(op, p.status);
    } else if (!p.stamp_known) {
      p.queued.push_back(id);  // leaves when the peer's hello arrives
    } else {
      PostSend(id, op, p);
    }
    return Request{id};
  }

  absl::StatusOr<Request> Irecv(uint32_t tag, uint32_t mask,
                                std::vector<std::byte>* buffer) override {
    if (!aborted_.ok()) return aborted_;
    auto [id, op] = ops_.Acquire();
    op->kind = Op::kRecv;
    op->ucx_tag = MakeTag(kData, 0, tag);
    op->ucx_mask = kKindMask | mask;
    op->buffer = buffer;
    posted_.push_back(id);
    return Request{id};
  }

  void Progress() override {
    for (int i = 0; i < 64 && ucp_worker_progress(worker_.get()) != 0; ++i) {
    }
    if (!aborted_.ok()) return;
    ProbeControl();
    ProbeData();
    SweepInternal();
    CheckTimeouts();
    CloseFailedPeers();
  }

  void WaitForEvent(absl::Duration timeout) override {
    if (event_fd_ < 0) return Transport::WaitForEvent(timeout);
    // Drain what is pending, then arm: UCS_ERR_BUSY means events arrived in between.
    for (int i = 0; i < 64 && ucp_worker_progress(worker_.get()) != 0; ++i) {
    }
    const ucs_status_t armed = ucp_worker_arm(worker_.get());
    if (armed == UCS_ERR_BUSY) return;
    if (armed != UCS_OK) return Transport::WaitForEvent(timeout);
    pollfd p{event_fd_, POLLIN, 0};
    const int64_t ms = std::clamp<int64_t>(absl::ToInt64Milliseconds(timeout), 1, 1000);
    poll(&p, 1, static_cast<int>(ms));
  }

  bool Test(Request request, Completion* completion) override {
    Op* op = ops_.Find(request.id);
    MOESERVE_TRANSPORT_CHECK(op != nullptr && !op->internal, "Test of an unknown request");
    if (!op->done) Progress();
    if (!op->done) return false;
    *completion = std::move(op->completion);
    if (!completion->status.ok() && !aborted_.ok()) completion->status = aborted_;
    ops_.Release(request.id);
    return true;
  }

  void Cancel(Request request) override {
    Op* op = ops_.Find(request.id);
    MOESERVE_TRANSPORT_CHECK(op != nullptr && !op->internal, "Cancel of an unknown request");
    MOESERVE_TRANSPORT_CHECK(op->kind == Op::kRecv, "Cancel of a send");
    if (!op->matched) {
      std::erase(posted_, request.id);
    } else if (!op->done) {
      // Matched to a message already: let it finish (bounded) so the buffer is free on return.
      ucp_request_cancel(worker_.get(), op->ucx.get());
      const absl::Time deadline = absl::Now() + options_.peer_timeout;
      while (!op->done && absl::Now() < deadline) ucp_worker_progress(worker_.get());
      if (!op->done) {
        const PeerId peer = op->completion.peer;
        if (peer >= 0 && peer < static_cast<PeerId>(peers_.size())) {
          Fail(*peers_[peer], absl::DeadlineExceededError(
                                  "ucx transport: a cancelled receive from it did not finish"));
          CloseFailedPeers();
        }
      }
      MOESERVE_TRANSPORT_CHECK(op->done, "cancelled receive still in flight");
    }
    ops_.Release(request.id);
  }

  absl::Status PeerStatus(PeerId peer) const override {
    if (peer < 0 || peer >= static_cast<PeerId>(peers_.size())) {
      return absl::InvalidArgumentError(absl::StrCat("ucx transport: unknown peer ", peer));
    }
    return peers_[peer]->status;
  }

  void Abort(absl::Status reason) override {
    if (!aborted_.ok()) return;
    if (reason.ok()) reason = absl::CancelledError("ucx transport aborted");
    aborted_ = reason;
    for (uint64_t id : posted_) Finish(ops_.Find(id), reason);
    posted_.clear();
    for (auto& p : peers_) Fail(*p, reason);
    CloseFailedPeers();  // force-closing every endpoint fails what is in flight on it
    // Whatever is still in flight must end before Abort returns (buffers may go next).
    const absl::Time deadline = absl::Now() + absl::Seconds(2);
    auto in_flight = [this] {
      bool any = false;
      ops_.ForEach([&](uint64_t, Op& op) { any |= op.ucx != nullptr && !op.done; });
      return any;
    };
    while (in_flight() && absl::Now() < deadline) ucp_worker_progress(worker_.get());
    // Requests UCX has not completed are not freed (freeing would reuse them under UCX).
    ops_.ForEach([&](uint64_t, Op& op) {
      if (op.ucx != nullptr && !op.done) {
        LOG(WARNING) << "ucx transport: a request did not finish after abort; leaking it";
        (void)op.ucx.release();
        Finish(&op, reason);
      }
    });
    std::vector<uint64_t> internal;
    internal.swap(internal_);
    for (uint64_t id : internal) ops_.Release(id);
  }

 private:
  struct Peer {
    UcxTransport* owner = nullptr;
    PeerId id = -1;
    std::vector<std::byte> address;
    EpPtr ep{nullptr, EpDeleter{nullptr}};
    absl::Status status;
    bool close_pending = false;  // failed, endpoint not closed yet
    uint32_t stamp = 0;          // the peer's id for us, carried in what we send it
    bool stamp_known = false;
    bool hello_sent = false;
    std::vector<std::byte> hello;  // our hello to it, kept until sent
    std::vector<uint64_t> queued;  // sends waiting for the stamp
  };
  struct Op {
    enum Kind : uint8_t { kSend, kRecv, kControlSend, kControlRecv } kind = kSend;
    bool internal = false;  // the transport's own (hello, bye): never seen by Test
    bool matched = false;   // receive: a message is being taken into the buffer
    bool done = false;
    Completion completion;
    RequestPtr ucx;  // the UCX request while in flight
    absl::Time started;
    std::span<const std::byte> data;           // send
    uint64_t ucx_tag = 0, ucx_mask = 0;        // receive
    std::vector<std::byte>* buffer = nullptr;  // receive
    std::vector<std::byte> control;            // control receive: its payload
    ucp_tag_t sender_tag = 0;                  // control receive
  };

  explicit UcxTransport(const UcxTransportOptions& options) : options_(options) {}

  absl::Status Init() {
    ucp_config_t* raw_config = nullptr;
    MOESERVE_UCX_RETURN_IF_ERROR(ucp_config_read(nullptr, nullptr, &raw_config));
    ConfigPtr config(raw_config);
    std::vector<std::pair<std::string, std::string>> settings = {
        {"KEEPALIVE_INTERVAL",
         absl::StrCat(absl::ToInt64Microseconds(options_.keepalive_interval), "us")},
    };
    if (UsesSharedMemory(options_.transports)) {
      // Shared-memory transports (posix, sysv: the "MM_" table) only advertise peer-failure
      // handling when asked to; without it UCX would not pick them for endpoints that want
      // failures reported. Their keepalive then checks that the peer process exists.
      settings.push_back({"MM_ERROR_HANDLING", "y"});
    }
    if (!options_.transports.empty()) settings.push_back({"TLS", options_.transports});
    for (const auto& kv : options_.config) settings.push_back(kv);
    for (const auto& [name, value] : settings) {
      const ucs_status_t s = ucp_config_modify(config.get(), name.c_str(), value.c_str());
      if (s != UCS_OK) {
        return UcxError(s, absl::StrCat("ucp_config_modify(", name, "=", value, ")").c_str());
      }
    }
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES;
    params.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
    ucp_context_h context = nullptr;
    MOESERVE_UCX_RETURN_IF_ERROR(ucp_init(&params, config.get(), &context));
    context_.reset(context);

    ucp_worker_params_t worker_params{};
    worker_params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    worker_params.thread_mode = UCS_THREAD_MODE_SINGLE;
    ucp_worker_h worker = nullptr;
    MOESERVE_UCX_RETURN_IF_ERROR(ucp_worker_create(context_.get(), &worker_params, &worker));
    worker_.reset(worker);
    // Idle waits block on this descriptor (WaitForEvent); without it they sleep briefly.
    if (ucp_worker_get_efd(worker_.get(), &event_fd_) != UCS_OK) event_fd_ = -1;

    ucp_address_t* raw_address = nullptr;
    size_t length = 0;
    MOESERVE_UCX_RETURN_IF_ERROR(ucp_worker_get_address(worker_.get(), &raw_address, &length));
    AddressPtr ucx_address(raw_address, AddressDeleter{worker_.get()});
    const uint32_t magic = kAddressMagic, size = static_cast<uint32_t>(length);
    address_.resize(8 + length);
    std::memcpy(address_.data(), &magic, 4);
    std::memcpy(address_.data() + 4, &size, 4);
    std::memcpy(address_.data() + 8, ucx_address.get(), length);
    return absl::OkStatus();
  }

  // Whether a UCX_TLS value may select posix/sysv (UCX warns about settings nothing uses).
  static bool UsesSharedMemory(const std::string& tls) {
    if (tls.empty()) return true;
    for (absl::string_view name : absl::StrSplit(tls, ',')) {
      if (!name.empty() && name[0] == '^') return true;  // an exclusion list keeps the rest
      if (name == "all" || name == "sm" || name == "shm" || name == "mm" || name == "posix" ||
          name == "sysv") {
        return true;
      }
    }
    return false;
  }

  static absl::Status CheckAddress(std::span<const std::byte> address) {
    uint32_t magic = 0, length = 0;
    if (address.size() >= 8) {
      std::memcpy(&magic, address.data(), 4);
      std::memcpy(&length, address.data() + 4, 4);
    }
    if (magic != kAddressMagic || length == 0 || address.size() != 8 + size_t{length}) {
      return absl::InvalidArgumentError("ucx transport: not a UCX transport address");
    }
    return absl::OkStatus();
  }

  static void OnPeerError(void* arg, ucp_ep_h, ucs_status_t status) {
    Peer* p = static_cast<Peer*>(arg);
    p->owner->Fail(*p, UcxError(status, absl::StrCat("peer ", p->id, " failed").c_str()));
  }

  absl::StatusOr<PeerId> AddPeer(std::vector<std::byte> address) {
    const PeerId id = static_cast<PeerId>(peers_.size());
    if (id >= kMaxPeers) return absl::ResourceExhaustedError("ucx transport: too many peers");
    auto p = std::make_unique<Peer>();
    p->owner = this;
    p->id = id;
    p->address = address;
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                        UCP_EP_PARAM_FIELD_ERR_HANDLER;
    params.address = reinterpret_cast<const ucp_address_t*>(address.data() + 8);
    params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    params.err_handler.cb = &UcxTransport::OnPeerError;
    params.err_handler.arg = p.get();
    ucp_ep_h ep = nullptr;
    const ucs_status_t s = ucp_ep_create(worker_.get(), &params, &ep);
    if (s == UCS_OK) {
      p->ep = EpPtr(ep, EpDeleter{worker_.get()});
    } else {
      p->status = UcxError(s, absl::StrCat("connect to peer ", id).c_str());
    }
    by_address_[std::move(address)] = id;
    peers_.push_back(std::move(p));
    return id;
  }

  // Starts an internal send (hello, bye) of `data` (which must outlive it) to `p`.
  void PostControl(Peer& p, uint64_t tag, std::span<const std::byte> data) {
    auto [id, op] = ops_.Acquire();
    op->kind = Op::kControlSend;
    op->internal = true;
    op->data = data;
    op->completion.peer = p.id;
    internal_.push_back(id);
    Post(id, op, p, tag);
  }

  void SendHello(Peer& p) {
    if (p.hello_sent || !p.status.ok()) return;
    p.hello_sent = true;
    const uint32_t magic = kHelloMagic, from = static_cast<uint32_t>(p.id);
    p.hello.resize(8 + address_.size());
    std::memcpy(p.hello.data(), &magic, 4);
    std::memcpy(p.hello.data() + 4, &from, 4);
    std::memcpy(p.hello.data() + 8, address_.data(), address_.size());
    PostControl(p, MakeTag(kHello, 0, 0), p.hello);
  }

  void SayGoodbye() {
    for (auto& p : peers_) {
      if (p->status.ok() && p->stamp_known) PostControl(*p, MakeTag(kBye, p->stamp, 0), {});
    }
    const absl::Time deadline = absl::Now() + options_.close_timeout;
    auto pending = [this] {
      for (uint64_t id : internal_) {
        Op* op = ops_.Find(id);
        if (op->kind == Op::kControlSend && !op->done) return true;
      }
      return false;
    };
    while (pending() && absl::Now() < deadline) ucp_worker_progress(worker_.get());
  }

  void PostSend(uint64_t id, Op* op, Peer& p) {
    Post(id, op, p, MakeTag(kData, p.stamp, op->completion.tag));
  }

  static void OnSent(void* request, ucs_status_t status, void* user_data) {
    Op* op = static_cast<Op*>(user_data);
    op->done = true;
    op->completion.status = UcxError(status, "send");
  }

  void Post(uint64_t id, Op* op, Peer& p, uint64_t tag) {
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    param.cb.send = &UcxTransport::OnSent;
    param.user_data = op;
    op->started = absl::Now();
    ucs_status_ptr_t request =
        ucp_tag_send_nbx(p.ep.get(), op->data.data(), op->data.size(), tag, &param);
    if (request == nullptr) {
      Finish(op, absl::OkStatus());
    } else if (UCS_PTR_IS_ERR(request)) {
      absl::Status error = UcxError(UCS_PTR_STATUS(request), "ucp_tag_send_nbx");
      Fail(p, error);
      Finish(op, error);
    } else {
      op->ucx.reset(request);
      in_flight_.push_back(id);
    }
  }

  static void OnReceived(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                         void* user_data) {
    Op* op = static_cast<Op*>(user_data);
    op->done = true;
    op->completion.status = UcxError(status, "receive");
  }

  // Starts taking the probed message `msg` into `data`.
  void Take(uint64_t id, Op* op, ucp_tag_message_h msg, void* data, size_t length) {
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    param.cb.recv = &UcxTransport::OnReceived;
    param.user_data = op;
    op->matched = true;
    op->started = absl::Now();
    ucs_status_ptr_t request = ucp_tag_msg_recv_nbx(worker_.get(), data, length, msg, &param);
    if (request == nullptr) {
      Finish(op, absl::OkStatus());
    } else if (UCS_PTR_IS_ERR(request)) {
      Finish(op, UcxError(UCS_PTR_STATUS(request), "ucp_tag_msg_recv_nbx"));
    } else {
      op->ucx.reset(request);
      if (!op->internal) in_flight_.push_back(id);
    }
  }

  void ProbeControl() {
    ucp_tag_recv_info_t info;
    // Kinds 2 (hello) and 3 (bye) share the mask 0xe << 60.
    while (ucp_tag_message_h msg = ucp_tag_probe_nb(worker_.get(), MakeTag(kHello, 0, 0),
                                                    uint64_t{0xe} << kKindShift, 1, &info)) {
      auto [id, op] = ops_.Acquire();
      op->kind = Op::kControlRecv;
      op->internal = true;
      op->sender_tag = info.sender_tag;
      op->control.resize(info.length);
      internal_.push_back(id);
      Take(id, op, msg, op->control.data(), info.length);
    }
  }

  void ProbeData() {
    ucp_tag_recv_info_t info;
    for (size_t i = 0; i < posted_.size();) {
      const uint64_t id = posted_[i];
      Op* op = ops_.Find(id);
      ucp_tag_message_h msg = ucp_tag_probe_nb(worker_.get(), op->ucx_tag, op->ucx_mask, 1, &info);
      if (msg == nullptr) {
        ++i;
        continue;
      }
      posted_.erase(posted_.begin() + i);
      const uint32_t stamp = StampOf(info.sender_tag);
      op->completion.peer = stamp < peers_.size() ? static_cast<PeerId>(stamp) : -1;
      op->completion.tag = static_cast<uint32_t>(info.sender_tag);
      op->completion.bytes = info.length;
      op->buffer->resize(info.length);
      Take(id, op, msg, op->buffer->data(), info.length);
    }
  }

  void SweepInternal() {
    for (size_t i = 0; i < internal_.size();) {
      const uint64_t id = internal_[i];
      Op* op = ops_.Find(id);
      if (!op->done) {
        ++i;
        continue;
      }
      if (op->kind == Op::kControlRecv && op->completion.status.ok()) HandleControl(*op);
      internal_[i] = internal_.back();
      internal_.pop_back();
      ops_.Release(id);
    }
  }

  void HandleControl(const Op& op) {
    if (KindOf(op.sender_tag) == kBye) {
      const uint32_t stamp = StampOf(op.sender_tag);
      if (stamp < peers_.size()) {
        Fail(*peers_[stamp], absl::UnavailableError(absl::StrCat("ucx transport: peer ", stamp,
                                                                 " closed its endpoint")));
      }
      return;
    }
    uint32_t magic = 0, from = 0;
    if (op.control.size() >= 8) {
      std::memcpy(&magic, op.control.data(), 4);
      std::memcpy(&from, op.control.data() + 4, 4);
    }
    std::span<const std::byte> address(op.control);
    if (magic != kHelloMagic || !CheckAddress(address.subspan(8)).ok()) {
      LOG(WARNING) << "ucx transport: dropped a malformed hello";
      return;
    }
    std::vector<std::byte> key(address.begin() + 8, address.end());
    PeerId id;
    auto it = by_address_.find(key);
    if (it != by_address_.end()) {
      id = it->second;
    } else {
      auto added = AddPeer(std::move(key));
      if (!added.ok()) {
        LOG(WARNING) << "ucx transport: hello from a new peer: " << added.status();
        return;
      }
      id = *added;
    }
    Peer& p = *peers_[id];
    p.stamp = from;
    p.stamp_known = true;
    SendHello(p);
    std::vector<uint64_t> queued;
    queued.swap(p.queued);
    for (uint64_t q : queued) {
      Op* send = ops_.Find(q);
      if (send == nullptr) continue;
      if (p.status.ok()) {
        PostSend(q, send, p);
      } else {
        Finish(send, p.status);
      }
    }
  }

  void CheckTimeouts() {
    const absl::Time now = absl::Now();
    for (size_t i = 0; i < in_flight_.size();) {
      Op* op = ops_.Find(in_flight_[i]);
      if (op == nullptr || op->done) {
        in_flight_[i] = in_flight_.back();
        in_flight_.pop_back();
        continue;
      }
      const PeerId peer = op->completion.peer;
      if (now - op->started > options_.peer_timeout && peer >= 0) {
        Fail(*peers_[peer],
             absl::DeadlineExceededError(absl::StrCat(
                 "ucx transport: a ", op->kind == Op::kSend ? "send to" : "receive from", " peer ",
                 peer, " did not complete within ", absl::FormatDuration(options_.peer_timeout))));
      }
      ++i;
    }
  }

  // Marks `p` failed (first reason wins); its endpoint is closed by CloseFailedPeers, outside
  // UCX callbacks.
  void Fail(Peer& p, const absl::Status& status) {
    if (!p.status.ok()) return;
    p.status = status;
    p.close_pending = true;
    failed_.push_back(p.id);
  }

  void CloseFailedPeers() {
    for (size_t i = 0; i < failed_.size(); ++i) {  // closing may fail more peers
      Peer& p = *peers_[failed_[i]];
      if (!p.close_pending) continue;
      p.close_pending = false;
      for (uint64_t q : p.queued) {
        if (Op* send = ops_.Find(q)) Finish(send, p.status);
      }
      p.queued.clear();
      p.ep.reset();
    }
    failed_.clear();
  }

  void Finish(Op* op, const absl::Status& status) {
    op->done = true;
    op->completion.status = status;
  }

  const UcxTransportOptions options_;
  // Declared first, destroyed last.
  ContextPtr context_;
  WorkerPtr worker_;
  int event_fd_ = -1;  // the worker's wakeup descriptor (owned by UCX), -1 if none
  std::vector<std::byte> address_;
  absl::Status aborted_;
  std::vector<std::unique_ptr<Peer>> peers_;  // by PeerId
  std::map<std::vector<std::byte>, PeerId> by_address_;
  transport_internal::RequestTable<Op> ops_;
  std::vector<uint64_t> posted_;     // receives not matched yet, in posting order
  std::vector<uint64_t> in_flight_;  // user sends and matched receives with a UCX request
  std::vector<uint64_t> internal_;   // hello/bye sends and control receives
  std::vector<PeerId> failed_;       // failed peers whose endpoint is still open
};

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> MakeUcxTransport(const UcxTransportOptions& options) {
  return UcxTransport::Create(options);
}

}  // namespace moeserve
