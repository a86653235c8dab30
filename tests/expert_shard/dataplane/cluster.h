// Test helpers for the data plane: expert shards serving on threads over any Transport, inputs
// whose first column encodes (source rank, token), and a tap that checks every dispatched row
// at the shard against that encoding.
#ifndef MOESERVE_TESTS_EXPERT_SHARD_DATAPLANE_CLUSTER_H_
#define MOESERVE_TESTS_EXPERT_SHARD_DATAPLANE_CLUSTER_H_

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "common/model_config.h"
#include "common/safetensors.h"
#include "common/transport.h"
#include "common/transport_a2a.h"
#include "expert_shard/expert_compute.h"
#include "expert_shard/expert_store.h"
#include "expert_shard/shard_server.h"
#include "gtest/gtest.h"
#include "kernels/cpu/cpu_backend.h"

namespace moeserve::testutil {

inline constexpr char kGoldenMoe[] = MOESERVE_SOURCE_DIR "/tests/data/golden/moe128_top8";

// x[t, 0] of worker `rank`'s batch: exact in float, so a shard can check a row's origin.
inline float OriginMarker(uint32_t rank, uint32_t token) {
  return static_cast<float>(rank * 4096 + token);
}

// A routed batch: random activations (first column the origin marker), distinct random experts
// per token, weights summing to one.
struct RoutedBatch {
  int64_t layer = 0, tokens = 0, hidden = 0, top_k = 0;
  std::vector<float> x, weights;
  std::vector<int32_t> ids;

  static RoutedBatch Make(const ModelConfig& config, int64_t layer, int64_t tokens, uint32_t rank,
                          uint32_t seed) {
    RoutedBatch b;
    b.layer = layer;
    b.tokens = tokens;
    b.hidden = config.hidden_size;
    b.top_k = config.num_experts_per_tok;
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    b.x.resize(tokens * b.hidden);
    for (float& v : b.x) v = normal(rng);
    b.ids.resize(tokens * b.top_k);
    b.weights.resize(tokens * b.top_k);
    std::vector<int32_t> all(config.num_experts);
    for (int64_t t = 0; t < tokens; ++t) {
      b.x[t * b.hidden] = OriginMarker(rank, static_cast<uint32_t>(t));
      for (int32_t e = 0; e < config.num_experts; ++e) all[e] = e;
      std::shuffle(all.begin(), all.end(), rng);
      float sum = 0;
      for (int64_t s = 0; s < b.top_k; ++s) {
        b.ids[t * b.top_k + s] = all[s];
        b.weights[t * b.top_k + s] = std::uniform_real_distribution<float>(0.1f, 1.0f)(rng);
        sum += b.weights[t * b.top_k + s];
      }
      for (int64_t s = 0; s < b.top_k; ++s) b.weights[t * b.top_k + s] /= sum;
    }
    return b;
  }

  MoeLayerBatch View(std::vector<double>* out) const {
    out->assign(tokens * hidden, -7.0);  // Run must set every element
    MoeLayerBatch v;
    v.layer = layer;
    v.tokens = tokens;
    v.hidden = hidden;
    v.top_k = top_k;
    v.x = x.data();
    v.topk_ids = ids.data();
    v.topk_weights = weights.data();
    v.out = out->data();
    return v;
  }
};

// Wraps a Transport and checks every dispatch message a receive delivers: each row's tag names
// the message's source rank and the row's origin marker matches the tag.
class TapTransport final : public Transport {
 public:
  explicit TapTransport(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}

  std::string_view name() const override { return inner_->name(); }
  std::span<const std::byte> LocalAddress() const override { return inner_->LocalAddress(); }
  absl::StatusOr<PeerId> Connect(std::span<const std::byte> address) override {
    return inner_->Connect(address);
  }
  absl::StatusOr<std::unique_ptr<MemoryRegion>> RegisterMemory(void* d, size_t n) override {
    return inner_->RegisterMemory(d, n);
  }
  absl::StatusOr<Request> Isend(PeerId p, uint32_t tag, std::span<const std::byte> d) override {
    return inner_->Isend(p, tag, d);
  }
  absl::StatusOr<Request> Irecv(uint32_t tag, uint32_t mask,
                                std::vector<std::byte>* buffer) override {
    auto r = inner_->Irecv(tag, mask, buffer);
    if (r.ok()) receives_[r->id] = buffer;
    return r;
  }
  void Progress() override { inner_->Progress(); }
  bool Test(Request request, Completion* completion) override {
    if (!inner_->Test(request, completion)) return false;
    auto it = receives_.find(request.id);
    if (it != receives_.end()) {
      if (completion->status.ok() && completion->tag == a2a::kDispatchTag) Check(*it->second);
      receives_.erase(it);
    }
    return true;
  }
  void Cancel(Request request) override {
    receives_.erase(request.id);
    inner_->Cancel(request);
  }
  absl::Status PeerStatus(PeerId peer) const override { return inner_->PeerStatus(peer); }
  void Abort(absl::Status reason) override { inner_->Abort(reason); }

  int64_t rows_checked() const { return rows_checked_.load(); }
  int64_t bad_rows() const { return bad_rows_.load(); }

 private:
  void Check(const std::vector<std::byte>& message) {
    auto m = a2a::ParseDispatch(message);
    if (!m.ok()) return;  // malformed messages are the server's to reject
    for (int64_t i = 0; i < m->header.rows; ++i) {
      const a2a::RowTag tag = m->tags[i];
      const bool ok = tag.source_rank == m->header.source_rank &&
                      m->x[i * m->header.hidden] == OriginMarker(tag.source_rank, tag.token);
      (ok ? rows_checked_ : bad_rows_).fetch_add(1);
    }
  }

  std::unique_ptr<Transport> inner_;
  std::map<uint64_t, std::vector<std::byte>*> receives_;
  std::atomic<int64_t> rows_checked_{0}, bad_rows_{0};
};

// One expert shard: its experts, compute, transport and server, serving on its own thread.
struct ShardNode {
  std::unique_ptr<ExpertStore> store;
  std::unique_ptr<kernels::Backend> backend;
  std::unique_ptr<ExpertCompute> compute;
  TapTransport* tap = nullptr;  // owned by `transport`
  std::unique_ptr<Transport> transport;
  std::unique_ptr<ShardServer> server;
  std::thread thread;
  absl::Status served;

  static std::unique_ptr<ShardNode> Make(const ModelConfig& config, const TensorStore& tensors,
                                         std::span<const int32_t> placement, uint32_t index,
                                         std::unique_ptr<Transport> transport,
                                         ShardServerOptions options = {}) {
    auto node = std::make_unique<ShardNode>();
    auto store = ExpertStore::Load(config, tensors, a2a::OwnedExperts(placement, index));
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    node->store = std::move(*store);
    auto backend = kernels::MakeCpuBackend(nullptr);
    EXPECT_TRUE(backend.ok());
    node->backend = std::move(*backend);
    node->compute = std::make_unique<ExpertCompute>(config, node->store.get(), node->backend.get());
    auto tap = std::make_unique<TapTransport>(std::move(transport));
    node->tap = tap.get();
    node->transport = std::move(tap);
    options.shard_index = index;
    options.spin_polls = 200;
    auto server = ShardServer::Create(config, node->store.get(), node->compute.get(),
                                      node->transport.get(), options);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return nullptr;
    node->server = std::move(*server);
    return node;
  }

  void Start() {
    thread = std::thread([this] { served = server->Serve(); });
  }
  void StopAndJoin() {
    if (!thread.joinable()) return;
    server->Stop();
    thread.join();
  }
  ~ShardNode() { StopAndJoin(); }
};

}  // namespace moeserve::testutil

#endif  // MOESERVE_TESTS_EXPERT_SHARD_DATAPLANE_CLUSTER_H_
