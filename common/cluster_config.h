// The cluster configuration: one YAML file for the router, the attention workers and the
// expert shards (docs/configuration.md documents every key and its default).
//
// Each section is an Options struct whose defaults are the documented ones and whose Validate()
// names the YAML path of every problem, e.g. "workers.block_size: must be a power of two in
// 1..1024, got 12". Parsing is strict: unknown keys are errors (with a "did you mean"), values
// must have the right type, and errors give the line they come from. Command-line overrides
// (`--set workers.count=4`, value in YAML syntax) are applied to the document before it is
// decoded, so they get the same checks; they are parsed by the caller (cli/), never read here.
//
// Values are plain data: copy freely, no thread-safety concerns.
#ifndef MOESERVE_COMMON_CLUSTER_CONFIG_H_
#define MOESERVE_COMMON_CLUSTER_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/logging.h"
#include "common/placement.h"

namespace moeserve {

struct ModelConfig;

// `router:` the front door (HTTP API, client gRPC API, ClusterControl).
struct RouterOptions {
  std::string host = "0.0.0.0";  // bind address for HTTP and gRPC
  int http_port = 8000;
  int grpc_port = 50051;
  // Where workers and shards dial the router's ClusterControl. "": 127.0.0.1:<grpc_port>.
  std::string advertise_address;
  int max_queue = 1024;  // waiting requests beyond which new ones get HTTP 503 / RESOURCE_EXHAUSTED
  std::string served_model_name;  // the API's model id; "": the model path as configured (as vLLM)

  absl::Status Validate() const;
  std::string AdvertiseAddress() const;
  bool operator==(const RouterOptions&) const = default;
};

// `workers:` attention workers (dense layers, paged KV, continuous batching).
struct WorkerOptions {
  int count = 1;
  std::string host = "0.0.0.0";  // bind address of the AttentionWorker service
  // Worker i listens on grpc_port + i. Unset: router.grpc_port + 1.
  std::optional<int> grpc_port;
  std::string advertise_host = "127.0.0.1";   // host in the address registered with the router
  int64_t kv_cache_bytes = int64_t{1} << 30;  // per worker; YAML accepts 512MiB, 4GiB, ...
  int block_size = 16;                        // tokens per KV block; a power of two
  int max_num_batched_tokens = 512;           // tokens per forward step (prefill chunks + decodes)
  int max_num_seqs = 64;                      // sequences in the running batch
  int max_model_len = 0;  // prompt + generated tokens; 0: the model's max_position_embeddings
  int threads = 0;        // compute threads; 0: one per core
  bool prefix_caching = true;

  absl::Status Validate() const;
  bool operator==(const WorkerOptions&) const = default;
};

// `expert_shards:` processes hosting the routed experts.
struct ExpertShardOptions {
  int count = 1;
  std::string host = "0.0.0.0";
  // Shard i listens on grpc_port + i. Unset: right after the workers' ports.
  std::optional<int> grpc_port;
  std::string advertise_host = "127.0.0.1";
  PlacementSpec placement;  // YAML: `even`, or {shard: [expert ids or "a-b" ranges]}
  int threads = 0;          // compute threads; 0: one per core

  absl::Status Validate() const;
  bool operator==(const ExpertShardOptions&) const = default;
};

// `data_plane:` how activations travel between workers and shards.
struct DataPlaneOptions {
  std::string transport = "ucx";   // "ucx" (processes, machines) or "inproc" (one process)
  std::string ucx_tls = "sm,tcp";  // UCX_TLS for the UCX transport
  int peer_timeout_ms = 10000;     // a peer silent this long fails the step with UNAVAILABLE

  absl::Status Validate() const;
  bool operator==(const DataPlaneOptions&) const = default;
};

// `heartbeat:` member -> router liveness.
struct HeartbeatOptions {
  int interval_ms = 1000;
  int timeout_ms = 5000;  // > interval_ms; the router marks a member LOST after this

  absl::Status Validate() const;
  bool operator==(const HeartbeatOptions&) const = default;
};

// `logging:`
struct LoggingOptions {
  std::string level = "info";  // debug, info, warning or error

  absl::Status Validate() const;
  LogLevel log_level() const;  // the level; kInfo when invalid
  bool operator==(const LoggingOptions&) const = default;
};

struct ClusterConfig {
  std::string model;  // model directory (config.json, safetensors, tokenizer); required
  RouterOptions router;
  WorkerOptions workers;
  ExpertShardOptions expert_shards;
  DataPlaneOptions data_plane;
  HeartbeatOptions heartbeat;
  LoggingOptions logging;

  // Every section's problems and the cross-section ones (model set, port collisions,
  // placement shape against expert_shards.count), one per line, as InvalidArgument.
  absl::Status Validate() const;
  // The checks that need the model: the placement against num_experts, max_model_len against
  // max_position_embeddings. `model` is the loaded config.json of `this->model`.
  absl::Status ValidateForModel(const ModelConfig& model) const;

  int WorkerGrpcPort(int index) const;
  int ShardGrpcPort(int index) const;
  bool operator==(const ClusterConfig&) const = default;
};

// Decodes a YAML document and then applies `overrides` ("path.to.key=yaml value"). Type errors,
// unknown keys and malformed overrides are InvalidArgument, one problem per line, each naming its
// path and line ("(line 4)") or "(from --set)". Does not call Validate().
absl::StatusOr<ClusterConfig> ParseClusterConfig(const std::string& yaml,
                                                 const std::vector<std::string>& overrides = {});

// Reads `path` ("" for none: every default), parses with `overrides` and validates. NotFound
// when the file cannot be read; errors are prefixed with the path.
absl::StatusOr<ClusterConfig> LoadClusterConfig(const std::string& path,
                                                const std::vector<std::string>& overrides = {});

// The configuration as YAML that ParseClusterConfig reads back to an equal ClusterConfig; unset
// optional fields are left out.
std::string ClusterConfigToYaml(const ClusterConfig& config);

// Every key path the decoder knows ("model", "router.host", ..., "expert_shards.placement"),
// in document order.
std::vector<std::string> ClusterConfigKeys();

// "4GiB" -> 4294967296. Plain integers are bytes; suffixes B, KiB, MiB, GiB, TiB (binary) and
// KB, MB, GB, TB (decimal).
absl::StatusOr<int64_t> ParseByteSize(const std::string& text);
// The shortest exact form: "1GiB", "1536MiB", "1000".
std::string FormatByteSize(int64_t bytes);

}  // namespace moeserve

#endif  // MOESERVE_COMMON_CLUSTER_CONFIG_H_
