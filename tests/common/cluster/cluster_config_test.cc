#include "common/cluster_config.h"

#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/str_split.h"
#include "common/model_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"
#include "yaml-cpp/yaml.h"

namespace moeserve {
namespace {

using ::testing::HasSubstr;

constexpr char kExample[] = R"(model: /models/Qwen3-30B-A3B
router: {host: 0.0.0.0, http_port: 8000, grpc_port: 50051, max_queue: 256}
workers:
  count: 2
  kv_cache_bytes: 4GiB
  block_size: 32
  max_num_batched_tokens: 1024
  max_num_seqs: 128
  max_model_len: 8192
  threads: 8
  prefix_caching: false
expert_shards:
  count: 4
  placement: even
  threads: 4
data_plane: {transport: ucx, ucx_tls: "sm,tcp", peer_timeout_ms: 2000}
heartbeat: {interval_ms: 500, timeout_ms: 3000}
logging: {level: debug}
)";

ClusterConfig Parsed(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  auto c = ParseClusterConfig(yaml, overrides);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : ClusterConfig{};
}

std::string ParseError(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  auto c = ParseClusterConfig(yaml, overrides);
  EXPECT_FALSE(c.ok());
  if (!c.ok()) {
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  }
  return c.ok() ? "" : std::string(c.status().message());
}

std::string ValidateError(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  ClusterConfig c = Parsed(yaml, overrides);
  absl::Status s = c.Validate();
  EXPECT_FALSE(s.ok());
  return std::string(s.message());
}

TEST(ClusterConfig, DefaultsAreTheStructDefaults) {
  ClusterConfig c = Parsed("model: /m\n");
  ClusterConfig expected;
  expected.model = "/m";
  EXPECT_EQ(c, expected);
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
  EXPECT_EQ(c.router.AdvertiseAddress(), "127.0.0.1:50051");
  EXPECT_EQ(c.WorkerGrpcPort(0), 50052);
  EXPECT_EQ(c.ShardGrpcPort(0), 50053);
  EXPECT_EQ(c.logging.log_level(), LogLevel::kInfo);
}

TEST(ClusterConfig, ParsesEveryField) {
  ClusterConfig c = Parsed(kExample);
  ASSERT_TRUE(c.Validate().ok()) << c.Validate();
  EXPECT_EQ(c.model, "/models/Qwen3-30B-A3B");
  EXPECT_EQ(c.router.max_queue, 256);
  EXPECT_EQ(c.workers.count, 2);
  EXPECT_EQ(c.workers.kv_cache_bytes, int64_t{4} << 30);
  EXPECT_EQ(c.workers.block_size, 32);
  EXPECT_EQ(c.workers.max_num_batched_tokens, 1024);
  EXPECT_EQ(c.workers.max_num_seqs, 128);
  EXPECT_EQ(c.workers.max_model_len, 8192);
  EXPECT_EQ(c.workers.threads, 8);
  EXPECT_FALSE(c.workers.prefix_caching);
  EXPECT_EQ(c.expert_shards.count, 4);
  EXPECT_TRUE(c.expert_shards.placement.is_even());
  EXPECT_EQ(c.expert_shards.threads, 4);
  EXPECT_EQ(c.data_plane.peer_timeout_ms, 2000);
  EXPECT_EQ(c.heartbeat.interval_ms, 500);
  EXPECT_EQ(c.logging.log_level(), LogLevel::kDebug);
  // Workers 50052-50053, shards 50054-50057.
  EXPECT_EQ(c.WorkerGrpcPort(1), 50053);
  EXPECT_EQ(c.ShardGrpcPort(0), 50054);
  EXPECT_EQ(c.ShardGrpcPort(3), 50057);
}

TEST(ClusterConfig, ExplicitPlacementWithRanges) {
  ClusterConfig c = Parsed(R"(model: /m
expert_shards:
  count: 3
  placement:
    0: [0-3, 8]
    1: "4-7"
    2: [9, 10, 11]
)");
  ASSERT_TRUE(c.Validate().ok()) << c.Validate();
  std::map<int, std::vector<int>> expected = {
      {0, {0, 1, 2, 3, 8}}, {1, {4, 5, 6, 7}}, {2, {9, 10, 11}}};
  EXPECT_EQ(c.expert_shards.placement.explicit_map, expected);
  ModelConfig m;
  m.num_experts = 12;
  EXPECT_TRUE(c.ValidateForModel(m).ok());
  m.num_experts = 18;
  EXPECT_EQ(c.ValidateForModel(m).message(),
            "expert_shards.placement: expert 12 is assigned to no shard");
}

TEST(ClusterConfig, TypeErrorsNameThePathAndLine) {
  EXPECT_EQ(ParseError("model: /m\nworkers:\n  count: two\n"),
            "workers.count: expected an integer, got 'two' (line 3)");
  EXPECT_EQ(ParseError("workers:\n  prefix_caching: maybe\n"),
            "workers.prefix_caching: expected true or false, got 'maybe' (line 2)");
  EXPECT_EQ(ParseError("workers:\n  kv_cache_bytes: 4 gigs\n"),
            "workers.kv_cache_bytes: expected a byte size like 4GiB or 536870912, got '4 gigs' "
            "(line 2)");
  EXPECT_EQ(ParseError("router: [1, 2]\n"), "router: expected a map of keys, got a list (line 1)");
  EXPECT_EQ(ParseError("model: [a]\n"), "model: expected a string, got a list (line 1)");
  EXPECT_EQ(ParseError("workers:\n  count: 99999999999\n"),
            "workers.count: 99999999999 is out of range (line 2)");
  EXPECT_EQ(ParseError("- a\n- b\n"),
            "the configuration must be a map of sections (model, router, workers, ...), got a "
            "list");
  EXPECT_THAT(ParseError("router: {host: [\n"), HasSubstr("line "));
}

TEST(ClusterConfig, EveryProblemIsReportedOnItsOwnLine) {
  const std::string e =
      ParseError("workers:\n  count: x\n  block_size: y\nrouter:\n  htp_port: 1\n");
  std::vector<std::string> lines = absl::StrSplit(e, '\n');
  ASSERT_EQ(lines.size(), 3u) << e;
  EXPECT_EQ(lines[0], "router.htp_port: unknown key; did you mean 'http_port'? (line 5)");
  EXPECT_EQ(lines[1], "workers.count: expected an integer, got 'x' (line 2)");
  EXPECT_EQ(lines[2], "workers.block_size: expected an integer, got 'y' (line 3)");
}

TEST(ClusterConfig, UnknownKeysAreErrors) {
  EXPECT_EQ(ParseError("model: /m\nworkers:\n  blocksize: 16\n"),
            "workers.blocksize: unknown key; did you mean 'block_size'? (line 3)");
  EXPECT_EQ(ParseError("modle: /m\n"), "modle: unknown key; did you mean 'model'? (line 1)");
  EXPECT_EQ(ParseError("gpu: {count: 1}\n"), "gpu: unknown key (line 1)");
  EXPECT_EQ(ParseError("expert_shard: {count: 1}\n"),
            "expert_shard: unknown key; did you mean 'expert_shards'? (line 1)");
}

TEST(ClusterConfig, PlacementSyntaxErrors) {
  EXPECT_EQ(ParseError("expert_shards: {placement: round_robin}\n"),
            "expert_shards.placement: expected 'even' or a map of shard index -> expert ids, got "
            "'round_robin' (line 1)");
  EXPECT_EQ(ParseError("expert_shards:\n  placement:\n    a: [1]\n"),
            "expert_shards.placement: shard keys are indices 0, 1, ...; got 'a' (line 3)");
  EXPECT_EQ(ParseError("expert_shards:\n  placement:\n    0: [1, x-3]\n"),
            "expert_shards.placement.0: 'x-3' is not an expert id or a range like 0-31 (line 3)");
  EXPECT_EQ(ParseError("expert_shards:\n  placement:\n    0: [5-2]\n"),
            "expert_shards.placement.0: '5-2' is not an expert id or a range like 0-31 (line 3)");
  EXPECT_EQ(ParseError("expert_shards:\n  placement: {}\n"),
            "expert_shards.placement: expected 'even' or a map of shard index -> expert ids, got "
            "an empty map (line 2)");
}

TEST(ClusterConfig, PlacementValidation) {
  EXPECT_EQ(
      ValidateError("model: /m\nexpert_shards:\n  count: 2\n  placement: {0: [0-3], 1: [3-5]}\n"),
      "expert_shards.placement: expert 3 is assigned to shards 0 and 1");
  EXPECT_EQ(
      ValidateError("model: /m\nexpert_shards:\n  count: 3\n  placement: {0: [0-3], 1: [4-5]}\n"),
      "expert_shards.placement: shard 2 is not listed (every shard 0..2 needs at least one "
      "expert)");
  ClusterConfig c =
      Parsed("model: /m\nexpert_shards:\n  count: 2\n  placement: {0: [0-15], 1: [16, 18-31]}\n");
  ASSERT_TRUE(c.Validate().ok());
  ModelConfig m;
  m.num_experts = 32;
  EXPECT_EQ(c.ValidateForModel(m).message(),
            "expert_shards.placement: expert 17 is assigned to no shard");
  m.num_experts = 20;
  EXPECT_EQ(c.ValidateForModel(m).message(),
            "expert_shards.placement: shard 1: expert 20 does not exist (the model has experts "
            "0..19)");
}

TEST(ClusterConfig, ValidateForModel) {
  ClusterConfig c =
      Parsed("model: /m\nexpert_shards: {count: 8}\nworkers: {max_model_len: 50000}\n");
  ModelConfig m;
  m.model_type = "qwen3_moe";
  m.num_experts = 4;
  m.max_position_embeddings = 40960;
  const std::string e(c.ValidateForModel(m).message());
  EXPECT_EQ(e,
            "expert_shards.count: 8 shards for 4 experts: shard 4 would host no expert\n"
            "workers.max_model_len: 50000 exceeds the model's max_position_embeddings (40960)");
  m.num_experts = 0;
  m.model_type = "qwen3";
  EXPECT_THAT(c.ValidateForModel(m).message(), HasSubstr("has no routed experts"));
}

struct BadValue {
  const char* name;
  const char* yaml;
  const char* message;
};

class ValidateErrors : public ::testing::TestWithParam<BadValue> {};

TEST_P(ValidateErrors, NamesThePath) {
  EXPECT_EQ(ValidateError(GetParam().yaml), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    ClusterConfig, ValidateErrors,
    ::testing::Values(
        BadValue{"no_model", "{}", "model: is required (the model directory)"},
        BadValue{"http_port", "model: m\nrouter: {http_port: 0}",
                 "router.http_port: must be in 1..65535, got 0"},
        BadValue{"same_ports", "model: m\nrouter: {http_port: 9000, grpc_port: 9000}",
                 "router.grpc_port: is the same as router.http_port (9000)"},
        BadValue{"advertise", "model: m\nrouter: {advertise_address: router}",
                 "router.advertise_address: expected host:port with a port in 1..65535, got "
                 "'router'"},
        BadValue{"max_queue", "model: m\nrouter: {max_queue: 0}",
                 "router.max_queue: must be >= 1, got 0"},
        BadValue{"router_host", "model: m\nrouter: {host: ''}", "router.host: must not be empty"},
        BadValue{"workers_count", "model: m\nworkers: {count: 0}",
                 "workers.count: must be in 1..1024, got 0"},
        BadValue{"block_size", "model: m\nworkers: {block_size: 12}",
                 "workers.block_size: must be a power of two in 1..1024, got 12"},
        BadValue{"kv", "model: m\nworkers: {kv_cache_bytes: 0}",
                 "workers.kv_cache_bytes: must be > 0, got 0"},
        BadValue{"seqs", "model: m\nworkers: {max_num_seqs: 600}",
                 "workers.max_num_seqs: 600 sequences cannot each decode a token in a step of "
                 "workers.max_num_batched_tokens = 512"},
        BadValue{"batched", "model: m\nworkers: {max_num_batched_tokens: 0}",
                 "workers.max_num_batched_tokens: must be >= 1, got 0"},
        BadValue{"model_len", "model: m\nworkers: {max_model_len: -1}",
                 "workers.max_model_len: must be >= 0, got -1"},
        BadValue{"worker_threads", "model: m\nworkers: {threads: -2}",
                 "workers.threads: must be >= 0, got -2"},
        BadValue{"worker_port_range", "model: m\nworkers: {count: 4, grpc_port: 65534}",
                 "workers.grpc_port: 4 ports from 65534 run past 65535"},
        BadValue{"shards_count", "model: m\nexpert_shards: {count: 2000}",
                 "expert_shards.count: must be in 1..1024, got 2000"},
        BadValue{"shard_threads", "model: m\nexpert_shards: {threads: -1}",
                 "expert_shards.threads: must be >= 0, got -1"},
        BadValue{"transport", "model: m\ndata_plane: {transport: rdma}",
                 "data_plane.transport: must be ucx or inproc, got 'rdma'"},
        BadValue{"tls", "model: m\ndata_plane: {ucx_tls: 'sm, tcp'}",
                 "data_plane.ucx_tls: expected a comma-separated UCX transport list like sm,tcp, "
                 "got 'sm, tcp'"},
        BadValue{"peer_timeout", "model: m\ndata_plane: {peer_timeout_ms: 0}",
                 "data_plane.peer_timeout_ms: must be >= 1, got 0"},
        BadValue{"hb_interval", "model: m\nheartbeat: {interval_ms: 5, timeout_ms: 100}",
                 "heartbeat.interval_ms: must be >= 10, got 5"},
        BadValue{"hb_timeout", "model: m\nheartbeat: {interval_ms: 1000, timeout_ms: 1000}",
                 "heartbeat.timeout_ms: must be greater than heartbeat.interval_ms (1000), got "
                 "1000"},
        BadValue{"log_level", "model: m\nlogging: {level: verbose}",
                 "logging.level: must be debug, info, warning or error, got 'verbose'"},
        BadValue{"port_clash_worker", "model: m\nworkers: {grpc_port: 8000}",
                 "workers.grpc_port: worker 0's port 8000 is already taken by router.http_port"},
        BadValue{"port_clash_shard",
                 "model: m\nworkers: {count: 3}\nexpert_shards: {grpc_port: 50053}",
                 "expert_shards.grpc_port: expert shard 0's port 50053 is already taken by worker "
                 "1"},
        BadValue{"port_past_end", "model: m\nrouter: {grpc_port: 65535, http_port: 80}",
                 "workers.grpc_port: worker 0 would listen on port 65536, past 65535"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ClusterConfig, ManyProblemsAtOnce) {
  const std::string e = ValidateError("workers: {count: 0, block_size: 3}\nlogging: {level: x}\n");
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 3) << e;
}

TEST(ClusterConfig, OverridesApplyBeforeDecoding) {
  ClusterConfig c = Parsed(kExample, {"workers.count=4", "router.http_port=9000",
                                      "expert_shards.placement={0: [0-63], 1: [64-127]}",
                                      "logging.level=warning", "model=/other"});
  EXPECT_EQ(c.workers.count, 4);
  EXPECT_EQ(c.router.http_port, 9000);
  EXPECT_EQ(c.expert_shards.placement.explicit_map.size(), 2u);
  EXPECT_EQ(c.logging.level, "warning");
  EXPECT_EQ(c.model, "/other");
  // Sections that the file does not have are created; later overrides win.
  ClusterConfig d = Parsed("", {"heartbeat.interval_ms=200", "heartbeat.interval_ms=300"});
  EXPECT_EQ(d.heartbeat.interval_ms, 300);
  // An empty value clears a string.
  ClusterConfig e = Parsed("router: {advertise_address: 'r:1'}", {"router.advertise_address="});
  EXPECT_EQ(e.router.advertise_address, "");
}

TEST(ClusterConfig, OverrideErrors) {
  EXPECT_EQ(ParseError(kExample, {"workers.count=many"}),
            "workers.count: expected an integer, got 'many' (from --set)");
  EXPECT_EQ(ParseError(kExample, {"workers.cuont=4"}),
            "workers.cuont: unknown key; did you mean 'count'? (from --set)");
  EXPECT_EQ(ParseError(kExample, {"workers.count"}),
            "--set 'workers.count': expected section.key=value, e.g. workers.count=4");
  EXPECT_EQ(ParseError(kExample, {"workers..count=1"}),
            "--set 'workers..count=1': expected section.key=value, e.g. workers.count=4");
  EXPECT_EQ(ParseError(kExample, {"model.path=/x"}),
            "--set 'model.path=/x': model is a value, not a section");
  EXPECT_THAT(ParseError(kExample, {"workers.count=[1"}),
              HasSubstr("--set 'workers.count=[1': the value is not valid YAML"));
}

TEST(ClusterConfig, YamlRoundTrip) {
  ClusterConfig a = Parsed(kExample);
  EXPECT_EQ(Parsed(ClusterConfigToYaml(a)), a);

  ClusterConfig b;
  b.model = "/m";
  b.workers.grpc_port = 7000;
  b.expert_shards.grpc_port = 7100;
  b.expert_shards.count = 3;
  b.expert_shards.placement.explicit_map = {{0, {0, 1, 2, 5}}, {1, {4, 3}}, {2, {6}}};
  b.workers.kv_cache_bytes = 1536LL << 20;
  b.router.served_model_name = "123";
  EXPECT_EQ(Parsed(ClusterConfigToYaml(b)), b) << ClusterConfigToYaml(b);

  ClusterConfig defaults;
  EXPECT_EQ(Parsed(ClusterConfigToYaml(defaults)), defaults);
}

TEST(ClusterConfig, LoadFromFile) {
  testutil::TempDir dir;
  const std::string path = dir.Join("cluster.yaml");
  testutil::WriteFile(path, kExample);
  auto c = LoadClusterConfig(path, {"workers.count=3"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->workers.count, 3);

  auto missing = LoadClusterConfig(dir.Join("nope.yaml"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.yaml: cannot read the file"));

  testutil::WriteFile(path, "model: /m\nworkers: {count: 0, block_size: 3}\n");
  auto bad = LoadClusterConfig(path);
  EXPECT_EQ(bad.status().message(),
            path + ": workers.count: must be in 1..1024, got 0\n" + path +
                ": workers.block_size: must be a power of two in 1..1024, got 3");

  auto no_file = LoadClusterConfig("", {"model=/m"});
  ASSERT_TRUE(no_file.ok()) << no_file.status();
  EXPECT_EQ(no_file->model, "/m");
}

TEST(ByteSize, ParseAndFormat) {
  EXPECT_EQ(*ParseByteSize("4GiB"), int64_t{4} << 30);
  EXPECT_EQ(*ParseByteSize("512 MiB"), int64_t{512} << 20);
  EXPECT_EQ(*ParseByteSize("1000"), 1000);
  EXPECT_EQ(*ParseByteSize("2GB"), 2000000000);
  EXPECT_EQ(*ParseByteSize("7B"), 7);
  EXPECT_EQ(*ParseByteSize("1TiB"), int64_t{1} << 40);
  EXPECT_FALSE(ParseByteSize("").ok());
  EXPECT_FALSE(ParseByteSize("GiB").ok());
  EXPECT_FALSE(ParseByteSize("-1GiB").ok());
  EXPECT_FALSE(ParseByteSize("1.5GiB").ok());
  EXPECT_FALSE(ParseByteSize("99999999999TiB").ok());
  EXPECT_EQ(FormatByteSize(int64_t{1} << 30), "1GiB");
  EXPECT_EQ(FormatByteSize(1536LL << 20), "1536MiB");
  EXPECT_EQ(FormatByteSize(1000), "1000");
  EXPECT_EQ(FormatByteSize(0), "0");
}

TEST(ClusterConfig, KeysListEverySetting) {
  std::vector<std::string> keys = ClusterConfigKeys();
  EXPECT_EQ(keys.front(), "model");
  EXPECT_NE(std::find(keys.begin(), keys.end(), "workers.kv_cache_bytes"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "expert_shards.placement"), keys.end());
  EXPECT_EQ(std::find(keys.begin(), keys.end(), "workers"), keys.end());  // sections are not keys
  EXPECT_EQ(keys.size(), 30u);
}

// ---- docs/configuration.md stays true ----------------------------------------------------------

std::string ReadDoc() {
  std::ifstream in(std::string(MOESERVE_SOURCE_DIR) + "/docs/configuration.md");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Leaf path -> scalar, from an emitted document.
void Leaves(const YAML::Node& node, const std::string& prefix,
            std::map<std::string, std::string>* out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string path =
        prefix.empty() ? it->first.Scalar() : prefix + "." + it->first.Scalar();
    if (it->second.IsMap()) {
      Leaves(it->second, path, out);
    } else {
      (*out)[path] = it->second.Scalar();
    }
  }
}

TEST(ConfigurationDoc, DocumentsEveryKeyWithItsDefault) {
  const std::string doc = ReadDoc();
  ASSERT_FALSE(doc.empty()) << "docs/configuration.md is missing";
  std::map<std::string, std::string> defaults;
  Leaves(YAML::Load(ClusterConfigToYaml(ClusterConfig{})), "", &defaults);
  for (const std::string& key : ClusterConfigKeys()) {
    // A table row: | `key` | default | meaning |
    const std::string start = "| `" + key + "` |";
    const size_t at = doc.find(start);
    ASSERT_NE(at, std::string::npos) << key << " is not documented in docs/configuration.md";
    const std::string row = doc.substr(at, doc.find('\n', at) - at);
    std::vector<std::string> cells = absl::StrSplit(row, '|');
    ASSERT_GE(cells.size(), 4u) << row;
    const std::string cell(absl::StripAsciiWhitespace(cells[2]));
    auto d = defaults.find(key);
    if (d == defaults.end()) continue;  // optional, no default value (the row explains)
    const std::string want = d->second.empty() ? "`\"\"`" : "`" + d->second + "`";
    if (key == "model") {
      EXPECT_EQ(cell, "(required)");
    } else {
      EXPECT_EQ(cell, want) << "docs/configuration.md: default of " << key;
    }
  }
}

TEST(ConfigurationDoc, FullExampleIsValid) {
  const std::string doc = ReadDoc();
  const std::string fence = "```yaml\n";
  const size_t at = doc.find(fence);
  ASSERT_NE(at, std::string::npos);
  const size_t end = doc.find("```", at + fence.size());
  const std::string yaml = doc.substr(at + fence.size(), end - at - fence.size());
  auto c = ParseClusterConfig(yaml);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->Validate().ok()) << c->Validate();
}

TEST(ConfigurationDoc, DeployExampleIsValid) {
  auto c = LoadClusterConfig(std::string(MOESERVE_SOURCE_DIR) + "/deploy/cluster.example.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
}

}  // namespace
}  // namespace moeserve
