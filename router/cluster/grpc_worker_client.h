// WorkerClient over the AttentionWorker.Generate stream of one worker process.
//
// One long-lived bidirectional stream per worker carries every request routed to it: Submit
// queues an AddRequest, Abort an AbortRequest; the worker answers with token, finished, error
// and load events. The stream is (re)opened in the background; while it is down the client is
// not ready and every request in flight on it fails with Unavailable.
//
// Threads: a connection thread owns the stream and reads events (calling sinks from it); a
// writer thread drains the outgoing queue. Public methods never block on the network.
#ifndef MOESERVE_ROUTER_CLUSTER_GRPC_WORKER_CLIENT_H_
#define MOESERVE_ROUTER_CLUSTER_GRPC_WORKER_CLIENT_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "moeserve/cluster/v1/cluster.grpc.pb.h"
#include "router/scheduler/worker_client.h"

namespace moeserve::router {

class GrpcWorkerClient : public WorkerClient {
 public:
  // `address` is the worker's "host:port".
  GrpcWorkerClient(std::string name, std::string address);
  ~GrpcWorkerClient() override;

  std::string name() const override { return name_; }
  absl::Status Submit(WorkerRequest request, EventSink sink) override;
  void Abort(std::string_view request_id) override;
  LoadReport load() const override;
  bool ready() const override;

 private:
  struct InFlight {
    EventSink sink;
    int64_t prompt_tokens = 0;
  };
  void ConnectionLoop();
  void WriterLoop(grpc::ClientReaderWriter<cluster::v1::WorkerRequest, cluster::v1::WorkerEvent>*
                      stream,
                  grpc::ClientContext* context);
  void Deliver(const cluster::v1::WorkerEvent& event);
  void FailAll(const absl::Status& status);

  const std::string name_;
  const std::string address_;
  std::unique_ptr<cluster::v1::AttentionWorker::Stub> stub_;
  std::thread connection_thread_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool have_load_ ABSL_GUARDED_BY(mu_) = false;
  LoadReport last_load_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  std::deque<cluster::v1::WorkerRequest> outgoing_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;  // of the open stream
};

}  // namespace moeserve::router

#endif  // MOESERVE_ROUTER_CLUSTER_GRPC_WORKER_CLIENT_H_
