// The data plane across processes over real UCX (shared memory and TCP): expert shards and
// workers are dataplane_node processes (posix_spawn, so no UCX state is ever forked); UCX
// addresses travel as hex lines through pipes, as they would through the control plane.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "absl/strings/str_split.h"
#include "common/transport_ucx.h"
#include "engine/local_dispatcher.h"
#include "tests/expert_shard/dataplane/cluster.h"
#include "worker/remote_dispatcher.h"

extern char** environ;

namespace moeserve {
namespace {

// A child process with its stdin and stdout on pipes; killed on destruction if still running.
class Child {
 public:
  static std::unique_ptr<Child> Spawn(std::vector<std::string> args) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return nullptr;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    args.insert(args.begin(), DATAPLANE_NODE);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    auto child = std::make_unique<Child>();
    const int rc =
        ::posix_spawn(&child->pid_, DATAPLANE_NODE, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    child->stdin_ = in[1];
    child->stdout_ = out[0];
    if (rc != 0) {
      child->pid_ = -1;
      return nullptr;
    }
    return child;
  }

  ~Child() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stdin_ >= 0) ::close(stdin_);
    if (stdout_ >= 0) ::close(stdout_);
  }

  // The next line of its stdout; "" on EOF or after `timeout`.
  std::string ReadLine(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (left <= 0) return "";
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[4096];
      const ssize_t n = ::read(stdout_, chunk, sizeof(chunk));
      if (n <= 0) return "";
      buffer_.append(chunk, n);
    }
  }
  // The first line starting with `prefix` (skipping others), or "".
  std::string ReadLineStarting(const std::string& prefix, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      std::string line = ReadLine(deadline - absl::Now());
      if (line.rfind(prefix, 0) == 0) return line;
      if (line.empty()) return "";
    }
    return "";
  }

  void CloseStdin() {
    ::close(stdin_);
    stdin_ = -1;
  }
  void Kill() { ::kill(pid_, SIGKILL); }
  // Exit code, or -1 if still running after `timeout` (or killed by a signal).
  int Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    int status = 0;
    while (absl::Now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return -1;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int stdin_ = -1, stdout_ = -1;
  std::string buffer_;
};

struct ShardProcess {
  std::unique_ptr<Child> child;
  std::string address_hex;
};

std::vector<ShardProcess> SpawnShards(int n, const std::string& tls) {
  std::vector<ShardProcess> shards;
  for (int s = 0; s < n; ++s) {
    ShardProcess p;
    p.child = Child::Spawn({"shard", std::to_string(s), std::to_string(n), tls});
    EXPECT_NE(p.child, nullptr);
    if (p.child == nullptr) return {};
    shards.push_back(std::move(p));
  }
  for (auto& p : shards) {
    const std::string line = p.child->ReadLineStarting("ADDRESS ", absl::Seconds(15));
    EXPECT_FALSE(line.empty()) << "a shard did not publish its address";
    if (line.empty()) return {};
    p.address_hex = line.substr(8);
  }
  return shards;
}

struct ShardStats {
  int64_t messages = 0, rows = 0, calls = 0, rejected = 0, checked = 0, bad = 0, multi = 0;
};
ShardStats StopShard(ShardProcess& p) {
  p.child->CloseStdin();
  const std::string line = p.child->ReadLineStarting("STATS ", absl::Seconds(10));
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(p.child->Wait(absl::Seconds(10)), 0);
  ShardStats s;
  std::istringstream in(line.substr(6));
  in >> s.messages >> s.rows >> s.calls >> s.rejected >> s.checked >> s.bad >> s.multi;
  return s;
}

// A worker in this process: RemoteDispatcher over UCX, and LocalDispatcher for reference.
class LocalWorker {
 public:
  LocalWorker(const std::string& tls, const std::vector<ShardProcess>& shards,
              absl::Duration timeout) {
    config_ = *LoadModelConfig(testutil::kGoldenMoe);
    tensors_ = std::move(*TensorStore::Open(testutil::kGoldenMoe));
    all_ = std::move(
        *ExpertStore::Load(config_, *tensors_, std::vector<bool>(config_.num_experts, true)));
    backend_ = std::move(*kernels::MakeCpuBackend(nullptr));
    compute_ = std::make_unique<ExpertCompute>(config_, all_.get(), backend_.get());
    local_ = std::make_unique<LocalDispatcher>(compute_.get());
    UcxTransportOptions t;
    t.transports = tls;
    t.keepalive_interval = absl::Milliseconds(100);
    t.peer_timeout = absl::Seconds(3);
    auto transport = MakeUcxTransport(t);
    EXPECT_TRUE(transport.ok()) << transport.status();
    transport_ = std::move(*transport);
    RemoteDispatcherOptions options;
    options.rank = 7;
    options.num_experts = config_.num_experts;
    options.timeout = timeout;
    options.spin_polls = 200;
    for (const auto& s : shards) {
      options.shards.push_back(*transport_->Connect(*AddressFromHex(s.address_hex)));
    }
    auto d = RemoteDispatcher::Create(transport_.get(), options);
    EXPECT_TRUE(d.ok()) << d.status();
    remote_ = std::move(*d);
  }

  // Runs one batch both ways; returns the remote status and checks equality when OK.
  absl::Status RunAndCompare(int64_t layer, int64_t tokens, uint32_t seed) {
    auto batch = testutil::RoutedBatch::Make(config_, layer, tokens, 7, seed);
    std::vector<double> expected, out;
    EXPECT_TRUE(local_->Run(batch.View(&expected)).ok());
    absl::Status s = remote_->Run(batch.View(&out));
    if (s.ok()) {
      EXPECT_EQ(std::memcmp(out.data(), expected.data(), out.size() * sizeof(double)), 0)
          << "layer " << layer << ", " << tokens << " tokens";
    }
    return s;
  }

  const ModelConfig& config() const { return config_; }
  RemoteDispatcher* remote() { return remote_.get(); }

 private:
  ModelConfig config_;
  std::unique_ptr<TensorStore> tensors_;
  std::unique_ptr<ExpertStore> all_;
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<ExpertCompute> compute_;
  std::unique_ptr<LocalDispatcher> local_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<RemoteDispatcher> remote_;
};

class DataplaneMultiprocess : public ::testing::TestWithParam<std::string> {};

TEST_P(DataplaneMultiprocess, TwoWorkerProcessesTwoShardProcesses) {
  const std::string tls = GetParam();
  auto shards = SpawnShards(2, tls);
  ASSERT_EQ(shards.size(), 2u);
  std::vector<std::unique_ptr<Child>> workers;
  for (int w = 0; w < 2; ++w) {
    workers.push_back(Child::Spawn(
        {"worker", std::to_string(w), tls, shards[0].address_hex, shards[1].address_hex}));
    ASSERT_NE(workers.back(), nullptr);
  }
  int64_t rows = 0;
  for (auto& w : workers) {
    std::string line;  // skip anything else on stdout (UCX logs there)
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (line.rfind("OK ", 0) != 0 && line.rfind("ERROR ", 0) != 0 && absl::Now() < deadline) {
      line = w->ReadLine(deadline - absl::Now());
    }
    EXPECT_EQ(line.rfind("OK ", 0), 0u) << line;
    if (line.rfind("OK ", 0) == 0) rows += std::stoll(line.substr(3));
    EXPECT_EQ(w->Wait(absl::Seconds(10)), 0);
  }
  int64_t served = 0, checked = 0;
  for (auto& s : shards) {
    const ShardStats stats = StopShard(s);
    EXPECT_EQ(stats.bad, 0);
    EXPECT_EQ(stats.rejected, 0);
    EXPECT_GT(stats.calls, 0);
    served += stats.rows;
    checked += stats.checked;
  }
  EXPECT_GT(rows, 0);
  EXPECT_EQ(served, rows);
  EXPECT_EQ(checked, rows);  // every row's (rank, token) origin verified at a shard
}

TEST_P(DataplaneMultiprocess, WorkerHereMatchesLocalDispatcher) {
  const std::string tls = GetParam();
  auto shards = SpawnShards(2, tls);
  ASSERT_EQ(shards.size(), 2u);
  LocalWorker worker(tls, shards, absl::Seconds(10));
  uint32_t seed = 0;
  for (int64_t tokens : {1, 8, 64}) {
    for (int64_t layer = 0; layer < worker.config().num_hidden_layers; ++layer) {
      absl::Status s = worker.RunAndCompare(layer, tokens, ++seed);
      ASSERT_TRUE(s.ok()) << s;
    }
  }
  for (auto& s : shards) EXPECT_EQ(StopShard(s).bad, 0);
}

TEST_P(DataplaneMultiprocess, KilledShardFailsRunWithinTheTimeout) {
  const std::string tls = GetParam();
  auto shards = SpawnShards(2, tls);
  ASSERT_EQ(shards.size(), 2u);
  constexpr absl::Duration kTimeout = absl::Seconds(4);
  LocalWorker worker(tls, shards, kTimeout);
  ASSERT_TRUE(worker.RunAndCompare(0, 16, 1).ok());
  shards[1].child->Kill();
  EXPECT_EQ(shards[1].child->Wait(absl::Seconds(5)), -1);  // killed by a signal
  const absl::Time start = absl::Now();
  absl::Status s = worker.RunAndCompare(1, 16, 2);
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s)) << s;
  EXPECT_NE(s.message().find("expert shard 1"), std::string::npos) << s;
  EXPECT_LT(took, kTimeout + absl::Seconds(1));
  std::cout << "[ killed shard over " << tls << ": " << absl::FormatDuration(took) << ": " << s
            << " ]" << std::endl;
  // The other shard still serves a batch that only needs it (experts 0..63).
  auto batch = testutil::RoutedBatch::Make(worker.config(), 0, 4, 7, 3);
  for (int32_t& e : batch.ids) e %= 64;
  for (int64_t t = 0; t < batch.tokens; ++t) {  // keep experts distinct within a token
    for (int64_t k = 0; k < batch.top_k; ++k) batch.ids[t * batch.top_k + k] = t * 8 + k;
  }
  std::vector<double> out;
  EXPECT_TRUE(worker.remote()->Run(batch.View(&out)).ok());
  EXPECT_EQ(StopShard(shards[0]).bad, 0);
}

TEST_P(DataplaneMultiprocess, StoppedShardIsDeadlineExceededThenRecovers) {
  const std::string tls = GetParam();
  auto shards = SpawnShards(2, tls);
  ASSERT_EQ(shards.size(), 2u);
  constexpr absl::Duration kTimeout = absl::Seconds(1);
  LocalWorker worker(tls, shards, kTimeout);
  ASSERT_TRUE(worker.RunAndCompare(0, 16, 1).ok());
  ::kill(shards[1].child->pid(), SIGSTOP);  // alive (keepalive and TCP are content) but silent
  const absl::Time start = absl::Now();
  absl::Status s = worker.RunAndCompare(1, 16, 2);
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_NE(s.message().find("expert shard 1"), std::string::npos) << s;
  EXPECT_GE(took, kTimeout);
  EXPECT_LT(took, kTimeout + absl::Milliseconds(500));
  ::kill(shards[1].child->pid(), SIGCONT);
  ASSERT_TRUE(worker.RunAndCompare(1, 16, 3).ok());  // the late answer is dropped as stale
  EXPECT_EQ(worker.remote()->stats().stale_replies, 1);
  for (auto& p : shards) EXPECT_EQ(StopShard(p).bad, 0);
}

INSTANTIATE_TEST_SUITE_P(Ucx, DataplaneMultiprocess, ::testing::Values("sm", "tcp"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace moeserve
