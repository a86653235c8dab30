// The data plane's transport: a narrow, non-blocking message interface between processes (or
// threads), after NCCL's net plugin (src/include/plugin/net/net_v8.h): connect that never
// blocks, isend/irecv returning requests, test, an error per peer, abort.
//
// A Transport is one endpoint. Its LocalAddress() is an opaque blob published through the
// control plane; another endpoint passes it to Connect() and gets a PeerId. Peers are
// symmetric: an endpoint that receives a message from one it never connected to learns that
// peer (an implicit accept) and can answer it with the PeerId reported in the Completion.
// Messages carry a 32-bit tag; receives match any peer with a tag/mask and take messages of any
// size (like MPI probe + receive). Between two endpoints, messages with one tag arrive in the
// order they were sent.
//
// Implementations: in-process (common/transport_inproc.h: endpoints in one process through a
// shared fabric) and UCX (common/transport_ucx.h: shared memory, TCP, RDMA where present). The
// MoE all-to-all (worker/remote_dispatcher.h, expert_shard/shard_server.h) is written once
// above this interface; its message layouts are in common/transport_a2a.h.
//
// Thread-safety: one thread drives a Transport (every method, including destruction); it is
// not thread-safe. Endpoints driven by different threads may talk to each other freely.
#ifndef MOESERVE_COMMON_TRANSPORT_H_
#define MOESERVE_COMMON_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace moeserve {

// A peer as one endpoint knows it: small integers from 0, never reused by that endpoint.
using PeerId = int32_t;

// An in-flight send or receive. Valid from Isend/Irecv until Test reports it done or Cancel.
struct Request {
  uint64_t id = 0;  // 0: no request
  bool valid() const { return id != 0; }
};

// What a finished request did.
struct Completion {
  absl::Status status;  // OK, or why it failed (peer gone, aborted, cancelled)
  PeerId peer = -1;     // send: the destination; receive: the source
  uint32_t tag = 0;     // the message's tag
  size_t bytes = 0;     // bytes sent or received
};

// A registered memory range (pinned / mapped for zero-copy where the transport can use that).
// Destroying it deregisters; it must not outlive the Transport that made it.
class MemoryRegion {
 public:
  virtual ~MemoryRegion() = default;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // "inproc" or "ucx".
  virtual std::string_view name() const = 0;

  // The bytes another endpoint passes to Connect to reach this one. Stable for the lifetime of
  // the object; meaningful only to the same implementation (and, for in-process, one fabric).
  virtual std::span<const std::byte> LocalAddress() const = 0;

  // Starts connecting to the endpoint at `address` and returns its PeerId at once: never waits
  // on the network. Sends may be posted immediately; they leave once the connection is up.
  // Connecting to an address already known (connected to, or heard from) returns the same
  // PeerId. A malformed address or this endpoint's own address is InvalidArgument.
  virtual absl::StatusOr<PeerId> Connect(std::span<const std::byte> address) = 0;

  // Registers [data, data + size) for zero-copy transfers. Transfers work without it; it only
  // lets an implementation that pins memory (RDMA) do so once instead of per message.
  virtual absl::StatusOr<std::unique_ptr<MemoryRegion>> RegisterMemory(void* data, size_t size) = 0;

  // Posts a send of `data` with `tag` to `peer`. `data` must stay valid and unchanged until the
  // request completes (Test reports it done) or the transport is aborted or destroyed; sends
  // cannot be cancelled. A send to a failed peer completes with the peer's error.
  virtual absl::StatusOr<Request> Isend(PeerId peer, uint32_t tag,
                                        std::span<const std::byte> data) = 0;

  // Posts a receive of the next message, from any peer, whose tag t satisfies
  // (t & mask) == (tag & mask). The message lands in *buffer, resized to its size (its capacity
  // is reused). `buffer` must stay valid until the request completes or is cancelled. Posted
  // receives are matched in posting order.
  virtual absl::StatusOr<Request> Irecv(uint32_t tag, uint32_t mask,
                                        std::vector<std::byte>* buffer) = 0;

  // Moves messages along. Call it regularly while anything is in flight, and now and then while
  // idle so that peers' connection and failure messages are handled; Test calls it too.
  virtual void Progress() = 0;

  // Blocks until something may have arrived for this endpoint or `timeout` passes (a hint:
  // callers then Progress and Test as usual). Lets idle loops sleep without adding latency.
  // The default sleeps briefly; UCX waits on the worker's event file descriptor.
  virtual void WaitForEvent(absl::Duration timeout);

  // True once `request` is done, with *completion filled in; the request is then released.
  // False while it is in flight. An unknown or released request is a programming error (crash).
  virtual bool Test(Request request, Completion* completion) = 0;

  // Cancels a posted receive: after this returns, *buffer is no longer touched. A receive not
  // yet matched leaves its message to a later receive; one already taking a message (a large
  // transfer under way) is finished or failed first and that message is dropped. Cancelling a
  // send is a programming error.
  virtual void Cancel(Request request) = 0;

  // OK while `peer` is reachable. Unavailable once it is known to be gone (its endpoint
  // destroyed, its process dead, the connection lost), DeadlineExceeded when a send to it did
  // not complete within the implementation's peer timeout, the abort reason after Abort.
  // Sticky: a failed peer stays failed. An unknown PeerId is InvalidArgument.
  virtual absl::Status PeerStatus(PeerId peer) const = 0;

  // Fails every in-flight request and every peer with `reason` (not OK); later calls to
  // Connect, Isend and Irecv fail with it too. Idempotent.
  virtual void Abort(absl::Status reason) = 0;
};

// Lower-case hex of an address, for text channels (files, pipes, logs); gRPC carries the raw
// bytes. AddressFromHex is its inverse (InvalidArgument on odd length or a non-hex digit).
std::string AddressToHex(std::span<const std::byte> address);
absl::StatusOr<std::vector<std::byte>> AddressFromHex(std::string_view hex);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_TRANSPORT_H_
