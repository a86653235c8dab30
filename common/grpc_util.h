// gRPC at the edge of a module: status mapping, server construction, health probing.
//
// absl::StatusCode and grpc::StatusCode share their numbering (both follow google.rpc.Code), so
// the mapping is 1:1 in both directions and keeps the message; an out-of-range code from a peer
// becomes UNKNOWN. Every moeserve gRPC server is built by StartGrpcServer, which turns on the
// standard health service (grpc.health.v1.Health) and server reflection unless told not to.
//
// Thread-safety: free functions are thread-safe; the returned grpc::Server is gRPC's.
#ifndef MOESERVE_COMMON_GRPC_UTIL_H_
#define MOESERVE_COMMON_GRPC_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "grpcpp/support/status.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace moeserve {

// Same code, same message. Details and payloads are not carried.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

struct GrpcServerOptions {
  // "host:port" to listen on; port 0 picks a free port (see StartedGrpcServer::port).
  std::string address = "0.0.0.0:0";
  bool enable_health = true;  // grpc.health.v1.Health, overall status SERVING once started
  // grpc.reflection.v1alpha.ServerReflection (grpcurl, grpc_cli). gRPC registers the plugin
  // process-wide: once one server had it, later servers of the process have it too.
  bool enable_reflection = true;
  // Overall health right after start. false: NOT_SERVING until SetServing(server, true), for a
  // process that listens before it can work (e.g. while it registers or loads weights).
  bool initially_serving = true;
  int max_message_bytes = 64 << 20;  // receive and send limit per message

  // InvalidArgument naming the field: empty or port-less address, port outside 0..65535,
  // max_message_bytes <= 0.
  absl::Status Validate() const;
};

struct StartedGrpcServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // the bound port (the chosen one when options.address asked for 0)
};

// Registers `services` (not owned; they must outlive the server), binds without TLS and starts.
// Unavailable when the address cannot be bound (e.g. the port is in use).
absl::StatusOr<StartedGrpcServer> StartGrpcServer(const GrpcServerOptions& options,
                                                  const std::vector<grpc::Service*>& services);

// Sets the health status of `service` ("" is the whole server) when the server has the health
// service; NOT_SERVING while draining keeps load balancers and readiness probes away.
void SetServing(grpc::Server& server, bool serving, const std::string& service = "");

// One grpc.health.v1.Health/Check call to `target` ("host:port") with `timeout`. OK when the
// answer is SERVING; Unavailable (or the call's own error) otherwise, with the reason.
absl::Status CheckGrpcHealth(const std::string& target, absl::Duration timeout,
                             const std::string& service = "");

}  // namespace moeserve

#endif  // MOESERVE_COMMON_GRPC_UTIL_H_
