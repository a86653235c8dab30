// Data-plane benchmark over UCX shared memory ("sm") and UCX TCP ("tcp", loopback).
//
// Layout: one process, threads with separate UCX contexts and workers (each Transport is its
// own UCP context + worker, so traffic between them goes through the selected UCX transport
// exactly as between processes; shared memory between threads uses the same posix/cma paths as
// between processes). One thread drives each endpoint.
//
//   BM_PingPong/<tls>/<bytes>   round trip of one message to an echo thread; one_way_us = RTT/2
//   BM_Stream/<tls>             1 MiB messages, 8 in flight, to a sink thread that acknowledges
//                               each batch of 16: delivered bandwidth
//   BM_Layer/<tls>/<shards>/<tokens>
//                               one MoE layer through RemoteDispatcher and <shards> ShardServer
//                               threads: dispatch + expert compute + combine, Qwen3-30B-A3B
//                               shapes (hidden 2048, 128 experts, top-8). Experts are the real
//                               ExpertCompute on a synthetic checkpoint with those shapes but
//                               moe_intermediate_size 8, so compute is small next to the data
//                               movement (the shard's compute is inside the figure).
//   Counters on BM_Layer: bytes moved per layer (dispatch + combine messages), x_rtt = layer
//   time / ping-pong RTT (8 B) and x_bw = (bytes / layer time) / streaming bandwidth, both
//   measured in the same run on the same transport.
//
// Flags (before Google Benchmark's): --model-dir DIR (default /tmp/moeserve-dataplane-bench;
// the synthetic checkpoint is written there on first use); --shard-spin-polls N (5000) and
// --shard-idle-sleep-us N (1): how shard threads poll when idle (spin with a core each; on a
// machine with fewer free cores than polling threads, e.g. 50 and 50, so they yield the CPU).
#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/tiny_model.h"
#include "common/transport_a2a.h"
#include "common/transport_ucx.h"
#include "expert_shard/shard_server.h"
#include "kernels/cpu/cpu_backend.h"
#include "worker/remote_dispatcher.h"

namespace moeserve {
namespace {

constexpr uint32_t kPing = 1, kPong = 2, kData = 3, kFence = 4, kAck = 5;
std::string g_model_dir = "/tmp/moeserve-dataplane-bench";
// Shard polling: spin this many empty polls, then sleep this long per poll. Spinning is right
// with a core per shard; on an oversubscribed machine it starves the other threads.
int g_shard_spin_polls = 5000;
int g_shard_idle_sleep_us = 1;

std::unique_ptr<Transport> Ucx(const std::string& tls) {
  UcxTransportOptions options;
  options.transports = tls;
  auto t = MakeUcxTransport(options);
  if (!t.ok()) {
    std::fprintf(stderr, "UCX (%s): %s\n", tls.c_str(), t.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*t);
}

void WaitFor(Transport* t, Request r, Completion* c = nullptr) {
  Completion local;
  while (!t->Test(r, c ? c : &local)) {
  }
}

// An endpoint on its own thread that echoes kPing as kPong and acknowledges each kFence
// (after the kData before it) with kAck.
class Echo {
 public:
  explicit Echo(const std::string& tls) : transport_(Ucx(tls)) {
    address_.assign(transport_->LocalAddress().begin(), transport_->LocalAddress().end());
    thread_ = std::thread([this] { Loop(); });
  }
  ~Echo() {
    stop_ = true;
    thread_.join();
  }
  const std::vector<std::byte>& address() const { return address_; }

 private:
  void Loop() {
    constexpr int kSlots = 8;
    std::vector<std::vector<std::byte>> buffers(kSlots);
    std::vector<Request> recvs(kSlots);
    for (int i = 0; i < kSlots; ++i) recvs[i] = *transport_->Irecv(0, 0, &buffers[i]);
    std::vector<std::byte> empty;
    while (!stop_) {
      transport_->Progress();
      for (int i = 0; i < kSlots; ++i) {
        Completion c;
        if (!transport_->Test(recvs[i], &c)) continue;
        if (c.tag == kPing) {
          WaitFor(transport_.get(), *transport_->Isend(c.peer, kPong, buffers[i]));
        } else if (c.tag == kFence) {
          WaitFor(transport_.get(), *transport_->Isend(c.peer, kAck, empty));
        }
        recvs[i] = *transport_->Irecv(0, 0, &buffers[i]);
      }
    }
    for (Request& r : recvs) transport_->Cancel(r);
  }

  std::unique_ptr<Transport> transport_;
  std::vector<std::byte> address_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A client endpoint connected to an Echo.
struct Client {
  explicit Client(const std::string& tls) : echo(tls), transport(Ucx(tls)) {
    peer = *transport->Connect(echo.address());
  }
  double RoundTrip(std::span<const std::byte> data, std::vector<std::byte>* answer) {
    const auto start = std::chrono::steady_clock::now();
    Request r = *transport->Irecv(kPong, ~0u, answer);
    Request s = *transport->Isend(peer, kPing, data);
    WaitFor(transport.get(), r);
    WaitFor(transport.get(), s);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  // Streams `count` messages of data (8 in flight), then a fence; returns when acknowledged.
  void Stream(std::span<const std::byte> data, int count) {
    std::vector<Request> window;
    for (int i = 0; i < count; ++i) {
      if (window.size() == 8) {
        WaitFor(transport.get(), window.front());
        window.erase(window.begin());
      }
      window.push_back(*transport->Isend(peer, kData, data));
    }
    for (Request r : window) WaitFor(transport.get(), r);
    std::vector<std::byte> ack;
    Request a = *transport->Irecv(kAck, ~0u, &ack);
    WaitFor(transport.get(), *transport->Isend(peer, kFence, {}));
    WaitFor(transport.get(), a);
  }
  Echo echo;
  std::unique_ptr<Transport> transport;
  PeerId peer = -1;
};

constexpr size_t kStreamMessage = 1 << 20;
constexpr int kStreamBatch = 16;

struct Baseline {
  double rtt_s = 0;       // median 8-byte round trip
  double bw_bytes_s = 0;  // streaming bandwidth, 1 MiB messages
};
Baseline MeasureBaseline(const std::string& tls) {
  static std::map<std::string, Baseline> cache;
  if (auto it = cache.find(tls); it != cache.end()) return it->second;
  Client client(tls);
  std::vector<std::byte> small(8), answer;
  std::vector<double> rtts;
  for (int i = 0; i < 3000; ++i) rtts.push_back(client.RoundTrip(small, &answer));
  std::sort(rtts.begin() + 0, rtts.end());
  Baseline b;
  b.rtt_s = rtts[rtts.size() / 2];
  std::vector<std::byte> big(kStreamMessage);
  client.Stream(big, kStreamBatch);  // warm up
  const auto start = std::chrono::steady_clock::now();
  constexpr int kRounds = 8;
  for (int i = 0; i < kRounds; ++i) client.Stream(big, kStreamBatch);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  b.bw_bytes_s = double(kRounds) * kStreamBatch * kStreamMessage / s;
  return cache[tls] = b;
}

void BM_PingPong(benchmark::State& state, std::string tls) {
  Client client(tls);
  std::vector<std::byte> data(state.range(0)), answer;
  for (int i = 0; i < 100; ++i) client.RoundTrip(data, &answer);
  double total = 0;
  for (auto _ : state) total += client.RoundTrip(data, &answer);
  state.counters["one_way_us"] = 1e6 * total / state.iterations() / 2;
  state.SetBytesProcessed(2 * state.iterations() * state.range(0));
}

void BM_Stream(benchmark::State& state, std::string tls) {
  Client client(tls);
  std::vector<std::byte> big(kStreamMessage);
  client.Stream(big, kStreamBatch);
  for (auto _ : state) client.Stream(big, kStreamBatch);
  state.SetBytesProcessed(state.iterations() * kStreamBatch * kStreamMessage);
}

// The synthetic checkpoint: Qwen3-30B-A3B layer shapes, one layer, tiny experts and vocab.
struct Model {
  ModelConfig config;
  std::unique_ptr<TensorStore> tensors;
};
Model* GetModel() {
  static Model* model = [] {
    TinyModelOptions o = TinyModelOptions::Qwen3_30B_A3B(1);
    o.moe_intermediate_size = 8;
    o.vocab_size = 256;
    o.bos_token_id = 1;
    o.eos_token_id = 2;
    if (!std::filesystem::exists(g_model_dir + "/config.json")) {
      auto written = WriteTinyModel(o, g_model_dir);
      if (!written.ok()) {
        std::fprintf(stderr, "%s\n", written.status().ToString().c_str());
        std::exit(1);
      }
    }
    auto m = new Model;
    m->config = *LoadModelConfig(g_model_dir);
    m->tensors = std::move(*TensorStore::Open(g_model_dir));
    return m;
  }();
  return model;
}

// One expert shard serving on its own thread.
struct ShardThread {
  ShardThread(const Model& m, std::span<const int32_t> placement, uint32_t index,
              const std::string& tls) {
    store =
        std::move(*ExpertStore::Load(m.config, *m.tensors, a2a::OwnedExperts(placement, index)));
    backend = std::move(*kernels::MakeCpuBackend(nullptr));
    compute = std::make_unique<ExpertCompute>(m.config, store.get(), backend.get());
    transport = Ucx(tls);
    ShardServerOptions options;
    options.shard_index = index;
    options.spin_polls = g_shard_spin_polls;
    options.idle_sleep = absl::Microseconds(g_shard_idle_sleep_us);
    server = std::move(
        *ShardServer::Create(m.config, store.get(), compute.get(), transport.get(), options));
    thread = std::thread([this] { (void)server->Serve(); });
  }
  ~ShardThread() {
    server->Stop();
    thread.join();
  }
  std::unique_ptr<ExpertStore> store;
  std::unique_ptr<kernels::Backend> backend;
  std::unique_ptr<ExpertCompute> compute;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<ShardServer> server;
  std::thread thread;
};

// A random routed batch on the model's shapes.
struct LayerInput {
  LayerInput(const ModelConfig& c, int64_t tokens) {
    const int64_t h = c.hidden_size, k = c.num_experts_per_tok;
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    x.resize(tokens * h);
    weights.assign(tokens * k, 1.0f / k);
    ids.resize(tokens * k);
    out.resize(tokens * h);
    for (float& v : x) v = normal(rng);
    std::vector<int32_t> all(c.num_experts);
    for (int64_t t = 0; t < tokens; ++t) {
      std::iota(all.begin(), all.end(), 0);
      std::shuffle(all.begin(), all.end(), rng);
      for (int64_t s = 0; s < k; ++s) ids[t * k + s] = all[s];
    }
    batch = {0, tokens, h, k, x.data(), ids.data(), weights.data(), out.data()};
  }
  std::vector<float> x, weights;
  std::vector<int32_t> ids;
  std::vector<double> out;
  MoeLayerBatch batch;
};

// The same layer's experts in-process (ExpertCompute alone, one thread): the compute part of
// BM_Layer, so BM_Layer minus this is the data plane's own cost.
void BM_LocalLayer(benchmark::State& state) {
  Model& m = *GetModel();
  auto store = std::move(
      *ExpertStore::Load(m.config, *m.tensors, std::vector<bool>(m.config.num_experts, true)));
  auto backend = std::move(*kernels::MakeCpuBackend(nullptr));
  ExpertCompute compute(m.config, store.get(), backend.get());
  LayerInput input(m.config, state.range(0));
  for (int i = 0; i < 5; ++i) (void)compute.Run(input.batch);
  for (auto _ : state) {
    absl::Status s = compute.Run(input.batch);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
}

void BM_Layer(benchmark::State& state, std::string tls) {
  const int num_shards = static_cast<int>(state.range(0));
  const int64_t tokens = state.range(1);
  const Baseline base = MeasureBaseline(tls);
  Model& m = *GetModel();
  const auto placement = a2a::EvenPlacement(m.config.num_experts, num_shards);
  std::vector<std::unique_ptr<ShardThread>> shards;
  for (int s = 0; s < num_shards; ++s) {
    shards.push_back(std::make_unique<ShardThread>(m, placement, s, tls));
  }
  auto transport = Ucx(tls);
  RemoteDispatcherOptions options;
  options.num_experts = m.config.num_experts;
  for (auto& s : shards)
    options.shards.push_back(*transport->Connect(s->transport->LocalAddress()));
  auto dispatcher = std::move(*RemoteDispatcher::Create(transport.get(), options));

  LayerInput input(m.config, tokens);
  const MoeLayerBatch batch = input.batch;
  for (int i = 0; i < 20; ++i) {
    absl::Status s = dispatcher->Run(batch);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
  }
  const RemoteDispatcherStats before = dispatcher->stats();
  for (auto _ : state) {
    absl::Status s = dispatcher->Run(batch);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  const RemoteDispatcherStats& after = dispatcher->stats();
  const double runs = double(after.runs - before.runs);
  const double bytes =
      double(after.bytes_sent - before.bytes_sent + after.bytes_received - before.bytes_received) /
      runs;
  state.counters["bytes"] = bytes;
  state.counters["rtt_us"] = base.rtt_s * 1e6;
  state.counters["stream_GBps"] = base.bw_bytes_s / 1e9;
  // Rate counters divide by the measured time: x_rtt = (time / iteration) / RTT,
  // x_bw = (bytes / (time / iteration)) / streaming bandwidth.
  state.counters["x_rtt"] = benchmark::Counter(
      base.rtt_s, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["x_bw"] =
      benchmark::Counter(bytes / base.bw_bytes_s, benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(int64_t(bytes * state.iterations()));
}

}  // namespace
}  // namespace moeserve

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "--model-dir" && i + 1 < argc) {
      moeserve::g_model_dir = argv[++i];
    } else if (std::string(argv[i]) == "--shard-spin-polls" && i + 1 < argc) {
      moeserve::g_shard_spin_polls = std::atoi(argv[++i]);
    } else if (std::string(argv[i]) == "--shard-idle-sleep-us" && i + 1 < argc) {
      moeserve::g_shard_idle_sleep_us = std::atoi(argv[++i]);
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  for (int64_t tokens : {1, 8, 64}) {
    benchmark::RegisterBenchmark("BM_LocalLayer", moeserve::BM_LocalLayer)->Arg(tokens);
  }
  for (const char* tls : {"sm", "tcp"}) {
    for (int64_t bytes : {8, 4096, 65536}) {
      benchmark::RegisterBenchmark(absl::StrCat("BM_PingPong/", tls, "/", bytes).c_str(),
                                   moeserve::BM_PingPong, tls)
          ->Arg(bytes)
          ->UseRealTime();
    }
    benchmark::RegisterBenchmark(absl::StrCat("BM_Stream/", tls).c_str(), moeserve::BM_Stream, tls)
        ->UseRealTime();
    for (int64_t shards : {1, 2}) {
      for (int64_t tokens : {1, 8, 64}) {
        benchmark::RegisterBenchmark(absl::StrCat("BM_Layer/", tls).c_str(), moeserve::BM_Layer,
                                     tls)
            ->Args({shards, tokens})
            ->UseRealTime();
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
