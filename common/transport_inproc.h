// The in-process Transport: endpoints in one process exchanging messages through a shared
// InProcessFabric. Used by tests and by single-process placements that still want the data
// plane's code path (e.g. several workers and shards as threads).
//
// A send copies the message into the destination's mailbox and completes at once; a receive
// completes when Progress (or Test) finds a matching message. Destroying an endpoint closes its
// mailbox: its peers see PeerStatus Unavailable at their next Progress and sends to it fail.
//
// Thread-safety: the fabric is thread-safe and shared (std::shared_ptr) by its endpoints and
// outlives them; each endpoint is driven by one thread, as every Transport.
#ifndef MOESERVE_COMMON_TRANSPORT_INPROC_H_
#define MOESERVE_COMMON_TRANSPORT_INPROC_H_

#include <cstdint>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/transport.h"

namespace moeserve {

class InProcessFabric {
 public:
  InProcessFabric();
  InProcessFabric(const InProcessFabric&) = delete;
  InProcessFabric& operator=(const InProcessFabric&) = delete;

  // A mailbox: one endpoint's incoming messages. Shared by the endpoint and its peers.
  struct Mailbox;

 private:
  friend class InProcessTransport;

  // Registers a new endpoint; returns its id (never 0).
  uint64_t Register(std::shared_ptr<Mailbox> mailbox);
  void Unregister(uint64_t endpoint);
  // The endpoint's mailbox, or nullptr once it is gone (or never was).
  std::shared_ptr<Mailbox> Find(uint64_t endpoint);

  const uint32_t fabric_id_;  // distinguishes fabrics in one process (addresses carry it)
  absl::Mutex mu_;
  uint64_t next_endpoint_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::weak_ptr<Mailbox>> endpoints_ ABSL_GUARDED_BY(mu_);
};

// A new endpoint on `fabric`.
std::unique_ptr<Transport> MakeInProcessTransport(std::shared_ptr<InProcessFabric> fabric);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_TRANSPORT_INPROC_H_
