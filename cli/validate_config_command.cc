// `moeserve validate-config FILE`: checks a cluster configuration and summarises it.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/cluster_flags.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/cluster_config.h"
#include "common/model_config.h"

namespace moeserve::cli {
namespace {

constexpr char kName[] = "validate-config";

// Every line of the status on its own stderr line; exit 2 (bad input).
int Problems(const absl::Status& status) {
  for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
    std::fprintf(stderr, "moeserve %s: %s\n", kName, std::string(line).c_str());
  }
  return 2;
}

std::string PortRange(int first, int count) {
  return count == 1 ? absl::StrCat("port ", first)
                    : absl::StrCat("ports ", first, "-", first + count - 1);
}

std::string Threads(int n) { return n == 0 ? "one per core" : absl::StrCat(n); }

void PrintSummary(const ClusterConfig& c, const ModelConfig* m) {
  if (m != nullptr) {
    std::printf("model: %s (%s, %lld layers, %lld experts, top-%lld)\n", c.model.c_str(),
                m->model_type.c_str(), static_cast<long long>(m->num_hidden_layers),
                static_cast<long long>(m->num_experts),
                static_cast<long long>(m->num_experts_per_tok));
  } else {
    std::printf("model: %s (not checked)\n", c.model.c_str());
  }
  std::printf("router: http %s:%d, grpc %s:%d (members dial %s), max_queue %d\n",
              c.router.host.c_str(), c.router.http_port, c.router.host.c_str(), c.router.grpc_port,
              c.router.AdvertiseAddress().c_str(), c.router.max_queue);

  const WorkerOptions& w = c.workers;
  std::string kv = FormatByteSize(w.kv_cache_bytes);
  int64_t max_len = w.max_model_len;
  if (m != nullptr) {
    // The KV cache holds K and V in FP32 for every layer and KV head.
    const int64_t per_token = 2 * m->num_hidden_layers * m->num_key_value_heads * m->head_dim * 4;
    if (per_token > 0) {
      const int64_t blocks = w.kv_cache_bytes / (per_token * w.block_size);
      absl::StrAppend(&kv, " = ", blocks, " blocks = ", blocks * w.block_size, " tokens");
    }
    if (max_len == 0) max_len = m->max_position_embeddings;
  }
  std::printf(
      "workers: %d on %s; kv cache %s each (block %d), step %d tokens / %d seqs, "
      "max_model_len %s, threads %s, prefix caching %s\n",
      w.count, PortRange(c.WorkerGrpcPort(0), w.count).c_str(), kv.c_str(), w.block_size,
      w.max_num_batched_tokens, w.max_num_seqs,
      max_len == 0 ? "from the model" : absl::StrCat(max_len).c_str(), Threads(w.threads).c_str(),
      w.prefix_caching ? "on" : "off");

  const ExpertShardOptions& s = c.expert_shards;
  std::string placement = s.placement.is_even() ? "even" : "explicit";
  if (m != nullptr) {
    auto p = ExpertPlacement::Resolve(s.placement, static_cast<int>(m->num_experts), s.count);
    if (p.ok()) absl::StrAppend(&placement, ": ", p->Describe());
  }
  std::printf("expert shards: %d on %s, threads %s; placement %s\n", s.count,
              PortRange(c.ShardGrpcPort(0), s.count).c_str(), Threads(s.threads).c_str(),
              placement.c_str());
  std::printf("data plane: %s%s, peer timeout %d ms\n", c.data_plane.transport.c_str(),
              c.data_plane.transport == "ucx"
                  ? absl::StrCat(" (UCX_TLS=", c.data_plane.ucx_tls, ")").c_str()
                  : "",
              c.data_plane.peer_timeout_ms);
  std::printf("heartbeat: every %d ms, lost after %d ms\n", c.heartbeat.interval_ms,
              c.heartbeat.timeout_ms);
  std::printf("logging: %s\n", c.logging.level.c_str());
}

}  // namespace

int RunValidateConfig(const std::vector<std::string>& raw_args) {
  std::vector<std::string> args = raw_args;
  auto sets = ExtractSetFlags(&args);
  if (!sets.ok()) return UsageError(kName, std::string(sets.status().message()));
  auto flags = Flags::Parse(args, {}, {"no-model", "print"});
  if (!flags.ok()) return UsageError(kName, std::string(flags.status().message()));
  if (flags->positional().size() != 1) {
    return UsageError(kName,
                      "usage: moeserve validate-config FILE [--set key=value ...] [--no-model] "
                      "[--print]");
  }
  const std::string& path = flags->positional()[0];
  auto config = LoadClusterConfig(path, *sets);
  if (!config.ok()) return Problems(config.status());

  ModelConfig model;
  const bool check_model = !flags->GetBool("no-model");
  if (check_model) {
    auto loaded = LoadModelConfig(config->model);
    if (!loaded.ok()) {
      return Problems(absl::InvalidArgumentError(absl::StrCat(
          path, ": model: ", loaded.status().message(), " (--no-model skips the model checks)")));
    }
    model = *loaded;
    if (absl::Status s = config->ValidateForModel(model); !s.ok()) {
      std::vector<std::string> lines = absl::StrSplit(s.message(), '\n');
      for (std::string& l : lines) l = absl::StrCat(path, ": ", l);
      return Problems(absl::InvalidArgumentError(absl::StrJoin(lines, "\n")));
    }
  }
  if (flags->GetBool("print")) {
    std::fputs(ClusterConfigToYaml(*config).c_str(), stdout);
    return 0;
  }
  std::printf("ok: %s\n", path.c_str());
  PrintSummary(*config, check_model ? &model : nullptr);
  return 0;
}

}  // namespace moeserve::cli
