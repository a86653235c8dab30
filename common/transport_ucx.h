// The UCX Transport: one UCP context and worker with the tag-matching API, over whatever
// transports UCX finds and the options allow (shared memory: posix/sysv/cma; TCP; RDMA verbs
// where present).
//
// Addresses are the UCP worker address. Connect creates the endpoint at once (UCX wires it up
// in the background) and sends a hello carrying this worker's address, so the peer can answer
// without connecting itself; until the peer's hello comes back, sends to it wait in a queue.
// Messages of unknown size are taken with probe + receive. Tags: 4 bits of message kind, 28 bits
// of the receiver's id for the sender (so a receive names its source), 32 bits of user tag.
//
// Failure detection: endpoints use UCX's peer error handling (a lost TCP connection, a shared-
// memory peer whose process is gone, found by keepalive every `keepalive_interval`); a send
// that does not complete within `peer_timeout` fails its peer with DeadlineExceeded; a
// transport being destroyed sends a goodbye, so its peers see Unavailable at once.
//
// Configuration comes only from the options (main.cc may fill them from UCX_* environment
// variables); note that UCX itself still applies UCX_* variables to settings the options leave
// alone.
//
// Thread-safety: as every Transport, driven by one thread (the UCP worker is single-threaded).
#ifndef MOESERVE_COMMON_TRANSPORT_UCX_H_
#define MOESERVE_COMMON_TRANSPORT_UCX_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/transport.h"

namespace moeserve {

struct UcxTransportOptions {
  // UCX transports, as UCX_TLS spells them: "sm" (shared memory), "tcp", "sm,tcp", "rc,sm,tcp",
  // ... Empty: UCX's default (every transport found).
  std::string transports;
  // Further UCX settings, names without the UCX_ prefix (e.g. {"TCP_CM_REUSEADDR", "y"}).
  std::vector<std::pair<std::string, std::string>> config;
  // How often UCX checks that peers are alive (shared-memory peers: their process exists).
  absl::Duration keepalive_interval = absl::Milliseconds(250);
  // A send to a peer still incomplete after this fails the peer (DeadlineExceeded).
  absl::Duration peer_timeout = absl::Seconds(10);
  // How long destruction waits for goodbyes to leave.
  absl::Duration close_timeout = absl::Milliseconds(200);

  absl::Status Validate() const;
};

// A new UCX endpoint. Fails (Unavailable / the UCX error) when UCX cannot start a context or
// worker with the requested transports.
absl::StatusOr<std::unique_ptr<Transport>> MakeUcxTransport(const UcxTransportOptions& options);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_TRANSPORT_UCX_H_
