// One process of the multi-process data-plane test, over UCX.
//
//   dataplane_node shard  INDEX NUM_SHARDS TLS
//     Hosts shard INDEX of the even placement of the golden MoE model. Prints
//     "ADDRESS <hex>" on stdout, serves until stdin closes, then prints
//     "STATS <messages> <rows> <expert_calls> <rejected> <rows_checked> <bad_rows>
//      <multi_source_calls>" and exits 0.
//   dataplane_node worker RANK TLS HEX_ADDRESS...
//     Connects to the shards, runs RemoteDispatcher over a series of batches (first column
//     encoding (RANK, token)), compares each output bit for bit with LocalDispatcher computed
//     here, prints "OK <rows>" and exits 0; prints the error and exits 1 otherwise.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "common/status.h"
#include "common/transport_ucx.h"
#include "engine/local_dispatcher.h"
#include "tests/expert_shard/dataplane/cluster.h"
#include "worker/remote_dispatcher.h"

namespace moeserve {
namespace {

struct Model {
  ModelConfig config;
  std::unique_ptr<TensorStore> tensors;
};

absl::StatusOr<Model> LoadModel() {
  Model m;
  ASSIGN_OR_RETURN(m.config, LoadModelConfig(testutil::kGoldenMoe));
  ASSIGN_OR_RETURN(m.tensors, TensorStore::Open(testutil::kGoldenMoe));
  return m;
}

absl::StatusOr<std::unique_ptr<Transport>> MakeTransport(const std::string& tls) {
  UcxTransportOptions options;
  options.transports = tls;
  options.keepalive_interval = absl::Milliseconds(100);
  options.peer_timeout = absl::Seconds(5);
  return MakeUcxTransport(options);
}

absl::Status Shard(uint32_t index, int num_shards, const std::string& tls) {
  ASSIGN_OR_RETURN(Model m, LoadModel());
  const auto placement = a2a::EvenPlacement(m.config.num_experts, num_shards);
  ASSIGN_OR_RETURN(auto store,
                   ExpertStore::Load(m.config, *m.tensors, a2a::OwnedExperts(placement, index)));
  ASSIGN_OR_RETURN(auto backend, kernels::MakeCpuBackend(nullptr));
  ExpertCompute compute(m.config, store.get(), backend.get());
  ASSIGN_OR_RETURN(auto ucx, MakeTransport(tls));
  testutil::TapTransport tap(std::move(ucx));
  ShardServerOptions options;
  options.shard_index = index;
  options.spin_polls = 200;
  ASSIGN_OR_RETURN(auto server,
                   ShardServer::Create(m.config, store.get(), &compute, &tap, options));
  std::cout << "ADDRESS " << AddressToHex(tap.LocalAddress()) << std::endl;
  std::thread watcher([&] {
    char c;
    while (::read(0, &c, 1) > 0) {
    }
    server->Stop();
  });
  absl::Status served = server->Serve();
  watcher.join();
  const ShardServerStats s = server->stats();
  std::cout << "STATS " << s.messages << " " << s.rows << " " << s.expert_calls << " " << s.rejected
            << " " << tap.rows_checked() << " " << tap.bad_rows() << " " << s.multi_source_calls
            << std::endl;
  return served;
}

absl::Status Worker(uint32_t rank, const std::string& tls, const std::vector<std::string>& hex) {
  ASSIGN_OR_RETURN(Model m, LoadModel());
  ASSIGN_OR_RETURN(auto all, ExpertStore::Load(m.config, *m.tensors,
                                               std::vector<bool>(m.config.num_experts, true)));
  ASSIGN_OR_RETURN(auto backend, kernels::MakeCpuBackend(nullptr));
  ExpertCompute compute(m.config, all.get(), backend.get());
  LocalDispatcher local(&compute);

  ASSIGN_OR_RETURN(auto transport, MakeTransport(tls));
  RemoteDispatcherOptions options;
  options.rank = rank;
  options.num_experts = m.config.num_experts;
  options.timeout = absl::Seconds(10);
  options.spin_polls = 200;
  for (const std::string& h : hex) {
    ASSIGN_OR_RETURN(auto address, AddressFromHex(h));
    ASSIGN_OR_RETURN(PeerId peer, transport->Connect(address));
    options.shards.push_back(peer);
  }
  ASSIGN_OR_RETURN(auto remote, RemoteDispatcher::Create(transport.get(), options));
  uint32_t seed = 1000 * rank;
  for (int round = 0; round < 3; ++round) {
    for (int64_t tokens : {1, 7, 64}) {
      for (int64_t layer = 0; layer < m.config.num_hidden_layers; ++layer) {
        auto batch = testutil::RoutedBatch::Make(m.config, layer, tokens, rank, ++seed);
        std::vector<double> expected, out;
        RETURN_IF_ERROR(local.Run(batch.View(&expected)));
        RETURN_IF_ERROR(remote->Run(batch.View(&out)));
        if (std::memcmp(out.data(), expected.data(), out.size() * sizeof(double)) != 0) {
          return absl::InternalError(absl::StrCat("output differs from LocalDispatcher: layer ",
                                                  layer, ", ", tokens, " tokens"));
        }
      }
    }
  }
  std::cout << "OK " << remote->stats().rows_sent << std::endl;
  return absl::OkStatus();
}

}  // namespace
}  // namespace moeserve

int main(int argc, char** argv) {
  using moeserve::Shard;
  using moeserve::Worker;
  const std::string role = argc > 1 ? argv[1] : "";
  absl::Status status = absl::InvalidArgumentError(
      "usage: dataplane_node shard INDEX NUM_SHARDS TLS | worker RANK TLS HEX_ADDRESS...");
  if (role == "shard" && argc == 5) {
    status = Shard(std::stoul(argv[2]), std::stoi(argv[3]), argv[4]);
  } else if (role == "worker" && argc >= 5) {
    status = Worker(std::stoul(argv[2]), argv[3], std::vector<std::string>(argv + 4, argv + argc));
  }
  if (!status.ok()) {
    std::cout << "ERROR " << status << std::endl;
    return 1;
  }
  return 0;
}
