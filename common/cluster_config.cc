#include "common/cluster_config.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/model_config.h"
#include "yaml-cpp/yaml.h"

namespace moeserve {
namespace {

constexpr int kMaxMembers = 1024;

// ---- Problems --------------------------------------------------------------------------------

// Collects "path: message" lines; Status() joins them.
class Problems {
 public:
  void Add(const std::string& path, const std::string& message) {
    lines_.push_back(absl::StrCat(path, ": ", message));
  }
  void Add(const absl::Status& status) {
    if (!status.ok()) lines_.push_back(std::string(status.message()));
  }
  absl::Status Status() const {
    if (lines_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(lines_, "\n"));
  }

 private:
  std::vector<std::string> lines_;
};

void CheckPort(Problems& p, const std::string& path, int port) {
  if (port < 1 || port > 65535) p.Add(path, absl::StrCat("must be in 1..65535, got ", port));
}

void CheckCount(Problems& p, const std::string& path, int count) {
  if (count < 1 || count > kMaxMembers) {
    p.Add(path, absl::StrCat("must be in 1..", kMaxMembers, ", got ", count));
  }
}

void CheckPortRange(Problems& p, const std::string& path, std::optional<int> port, int count) {
  if (!port) return;
  CheckPort(p, path, *port);
  if (*port >= 1 && *port <= 65535 && count >= 1 && *port + count - 1 > 65535) {
    p.Add(path, absl::StrCat(count, " ports from ", *port, " run past 65535"));
  }
}

void CheckNotEmpty(Problems& p, const std::string& path, const std::string& value) {
  if (value.empty()) p.Add(path, "must not be empty");
}

void CheckHostPort(Problems& p, const std::string& path, const std::string& value) {
  const size_t colon = value.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(value.substr(colon + 1), &port) || port < 1 || port > 65535) {
    p.Add(path, absl::StrCat("expected host:port with a port in 1..65535, got '", value, "'"));
  }
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// ---- Decoding --------------------------------------------------------------------------------

// Shared state of one decode: problems, the paths set by overrides, and (for ClusterConfigKeys)
// every key asked for.
class Decoder {
 public:
  explicit Decoder(std::vector<std::string> overridden) : overridden_(std::move(overridden)) {}

  void Error(const std::string& path, const YAML::Node& node, const std::string& message) {
    problems_.Add(path, absl::StrCat(message, Where(path, node)));
  }
  void Known(const std::string& path) {
    if (std::find(keys_.begin(), keys_.end(), path) == keys_.end()) keys_.push_back(path);
  }
  const Problems& problems() const { return problems_; }
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  std::string Where(const std::string& path, const YAML::Node& node) const {
    for (const std::string& o : overridden_) {
      if (path == o || absl::StartsWith(path, o + ".") || absl::StartsWith(o, path + ".")) {
        return " (from --set)";
      }
    }
    if (node.IsDefined() && node.Mark().line >= 0) {
      return absl::StrCat(" (line ", node.Mark().line + 1, ")");
    }
    return "";
  }

  std::vector<std::string> overridden_;
  Problems problems_;
  std::vector<std::string> keys_;
};

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return absl::StrCat("'", node.Scalar(), "'");
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

bool ParseBool(const std::string& text, bool* out) {
  const std::string t = absl::AsciiStrToLower(text);
  if (t == "true" || t == "yes" || t == "on") {
    *out = true;
  } else if (t == "false" || t == "no" || t == "off") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

// One YAML map being decoded; unknown keys are reported by Finish().
class MapReader {
 public:
  MapReader(Decoder* d, YAML::Node node, std::string prefix)
      : d_(d), node_(node), prefix_(std::move(prefix)) {
    if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
      d_->Error(prefix_.empty() ? "(document)" : prefix_, node_,
                absl::StrCat("expected a map of keys, got ", Describe(node_)));
      node_ = YAML::Node();
    }
  }

  // The node under `key` (marked known), or an undefined node when absent or null.
  YAML::Node Get(const std::string& key) {
    known_.insert(key);
    d_->Known(Path(key));
    if (!node_.IsDefined() || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& cnode = node_;
    YAML::Node child = cnode[key];
    if (!child.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    return child;
  }
  std::string Path(const std::string& key) const {
    return prefix_.empty() ? key : absl::StrCat(prefix_, ".", key);
  }

  void Int(const std::string& key, int* out) {
    int64_t v = *out;
    if (Int64(key, &v, INT32_MIN, INT32_MAX)) *out = static_cast<int>(v);
  }
  void OptionalInt(const std::string& key, std::optional<int>* out) {
    YAML::Node n = Get(key);
    if (!n.IsDefined() || n.IsNull()) return;
    int v = 0;
    Int(key, &v);
    *out = v;
  }
  bool Int64(const std::string& key, int64_t* out, int64_t min = INT64_MIN,
             int64_t max = INT64_MAX) {
    YAML::Node n = Get(key);
    if (!n.IsDefined()) return false;
    int64_t v;
    if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v)) {
      d_->Error(Path(key), n, absl::StrCat("expected an integer, got ", Describe(n)));
      return false;
    }
    if (v < min || v > max) {
      d_->Error(Path(key), n, absl::StrCat(v, " is out of range"));
      return false;
    }
    *out = v;
    return true;
  }
  void Bytes(const std::string& key, int64_t* out) {
    YAML::Node n = Get(key);
    if (!n.IsDefined()) return;
    auto v = n.IsScalar() ? ParseByteSize(n.Scalar())
                          : absl::InvalidArgumentError(
                                absl::StrCat("expected a byte size like 4GiB, got ", Describe(n)));
    if (!v.ok()) {
      d_->Error(Path(key), n, std::string(v.status().message()));
      return;
    }
    *out = *v;
  }
  void Bool(const std::string& key, bool* out) {
    YAML::Node n = Get(key);
    if (!n.IsDefined()) return;
    if (!n.IsScalar() || !ParseBool(n.Scalar(), out)) {
      d_->Error(Path(key), n, absl::StrCat("expected true or false, got ", Describe(n)));
    }
  }
  void String(const std::string& key, std::string* out) {
    YAML::Node n = Get(key);
    if (!n.IsDefined()) return;
    if (n.IsNull()) {
      out->clear();
    } else if (n.IsScalar()) {
      *out = n.Scalar();
    } else {
      d_->Error(Path(key), n, absl::StrCat("expected a string, got ", Describe(n)));
    }
  }

  MapReader Section(const std::string& key) { return MapReader(d_, Get(key), Path(key)); }

  // Reports keys present in the map that nobody asked for.
  void Finish() {
    if (!node_.IsDefined() || !node_.IsMap()) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (!it->first.IsScalar()) {
        d_->Error(prefix_.empty() ? "(document)" : prefix_, it->first, "keys must be names");
        continue;
      }
      const std::string key = it->first.Scalar();
      if (known_.count(key)) continue;
      std::string best;
      size_t best_distance = 3;  // suggest only close names
      for (const std::string& k : known_) {
        const size_t dist = EditDistance(key, k);
        if (dist < best_distance) best_distance = dist, best = k;
      }
      d_->Error(Path(key), it->first,
                best.empty() ? std::string("unknown key")
                             : absl::StrCat("unknown key; did you mean '", best, "'?"));
    }
  }

  Decoder* decoder() { return d_; }

 private:
  Decoder* d_;
  YAML::Node node_;
  std::string prefix_;
  std::set<std::string> known_;
};

// One expert id or an inclusive "a-b" range.
bool ParseExpertItem(const std::string& text, std::vector<int>* out) {
  int a, b;
  const size_t dash = text.find('-', 1);
  if (dash == std::string::npos) {
    if (!absl::SimpleAtoi(text, &a)) return false;
    out->push_back(a);
    return true;
  }
  if (!absl::SimpleAtoi(text.substr(0, dash), &a) || !absl::SimpleAtoi(text.substr(dash + 1), &b) ||
      a < 0 || b < a || b - a > 1 << 20) {
    return false;
  }
  for (int e = a; e <= b; ++e) out->push_back(e);
  return true;
}

void DecodePlacement(MapReader& section, PlacementSpec* out) {
  const std::string path = section.Path("placement");
  YAML::Node n = section.Get("placement");
  Decoder* d = section.decoder();
  if (!n.IsDefined()) return;
  if (n.IsScalar()) {
    if (n.Scalar() != "even") {
      d->Error(
          path, n,
          absl::StrCat("expected 'even' or a map of shard index -> expert ids, got ", Describe(n)));
    }
    out->explicit_map.clear();
    return;
  }
  if (!n.IsMap() || n.size() == 0) {
    d->Error(path, n,
             absl::StrCat("expected 'even' or a map of shard index -> expert ids, got ",
                          n.IsMap() ? "an empty map" : Describe(n)));
    return;
  }
  std::map<int, std::vector<int>> map;
  for (auto it = n.begin(); it != n.end(); ++it) {
    int shard;
    if (!it->first.IsScalar() || !absl::SimpleAtoi(it->first.Scalar(), &shard) || shard < 0) {
      d->Error(path, it->first,
               absl::StrCat("shard keys are indices 0, 1, ...; got ", Describe(it->first)));
      continue;
    }
    const std::string item_path = absl::StrCat(path, ".", shard);
    std::vector<std::string> items;
    if (it->second.IsScalar()) {
      for (absl::string_view part : absl::StrSplit(it->second.Scalar(), ',')) {
        items.emplace_back(absl::StripAsciiWhitespace(part));
      }
    } else if (it->second.IsSequence()) {
      for (const YAML::Node& item : it->second) {
        if (!item.IsScalar()) {
          d->Error(item_path, item, absl::StrCat("expected an expert id, got ", Describe(item)));
          continue;
        }
        items.push_back(item.Scalar());
      }
    } else {
      d->Error(item_path, it->second,
               absl::StrCat("expected a list of expert ids, got ", Describe(it->second)));
      continue;
    }
    std::vector<int>& experts = map[shard];
    for (const std::string& item : items) {
      if (!ParseExpertItem(item, &experts)) {
        d->Error(item_path, it->second,
                 absl::StrCat("'", item, "' is not an expert id or a range like 0-31"));
      }
    }
  }
  out->explicit_map = std::move(map);
}

void Decode(MapReader& root, ClusterConfig* c) {
  root.String("model", &c->model);

  MapReader r = root.Section("router");
  r.String("host", &c->router.host);
  r.Int("http_port", &c->router.http_port);
  r.Int("grpc_port", &c->router.grpc_port);
  r.String("advertise_address", &c->router.advertise_address);
  r.Int("max_queue", &c->router.max_queue);
  r.String("served_model_name", &c->router.served_model_name);
  r.Finish();

  MapReader w = root.Section("workers");
  w.Int("count", &c->workers.count);
  w.String("host", &c->workers.host);
  w.OptionalInt("grpc_port", &c->workers.grpc_port);
  w.String("advertise_host", &c->workers.advertise_host);
  w.Bytes("kv_cache_bytes", &c->workers.kv_cache_bytes);
  w.Int("block_size", &c->workers.block_size);
  w.Int("max_num_batched_tokens", &c->workers.max_num_batched_tokens);
  w.Int("max_num_seqs", &c->workers.max_num_seqs);
  w.Int("max_model_len", &c->workers.max_model_len);
  w.Int("threads", &c->workers.threads);
  w.Bool("prefix_caching", &c->workers.prefix_caching);
  w.Finish();

  MapReader s = root.Section("expert_shards");
  s.Int("count", &c->expert_shards.count);
  s.String("host", &c->expert_shards.host);
  s.OptionalInt("grpc_port", &c->expert_shards.grpc_port);
  s.String("advertise_host", &c->expert_shards.advertise_host);
  DecodePlacement(s, &c->expert_shards.placement);
  s.Int("threads", &c->expert_shards.threads);
  s.Finish();

  MapReader dp = root.Section("data_plane");
  dp.String("transport", &c->data_plane.transport);
  dp.String("ucx_tls", &c->data_plane.ucx_tls);
  dp.Int("peer_timeout_ms", &c->data_plane.peer_timeout_ms);
  dp.Finish();

  MapReader hb = root.Section("heartbeat");
  hb.Int("interval_ms", &c->heartbeat.interval_ms);
  hb.Int("timeout_ms", &c->heartbeat.timeout_ms);
  hb.Finish();

  MapReader lg = root.Section("logging");
  lg.String("level", &c->logging.level);
  lg.Finish();

  root.Finish();
}

// Sets `value` at the dotted `parts` under `node`, creating sections as needed.
absl::Status SetPath(YAML::Node node, const std::vector<std::string>& parts, size_t i,
                     const YAML::Node& value) {
  const std::string& key = parts[i];
  if (i + 1 == parts.size()) {
    node[key] = value;
    return absl::OkStatus();
  }
  const YAML::Node& cnode = node;
  const YAML::Node existing = cnode[key];
  if (!existing.IsDefined() || existing.IsNull()) {
    node[key] = YAML::Node(YAML::NodeType::Map);
  } else if (!existing.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(
        absl::StrJoin(parts.begin(), parts.begin() + i + 1, "."), " is a value, not a section"));
  }
  return SetPath(node[key], parts, i + 1, value);
}

// Applies "a.b.c=value" overrides; returns the overridden paths.
absl::StatusOr<std::vector<std::string>> ApplyOverrides(YAML::Node root,
                                                        const std::vector<std::string>& overrides) {
  std::vector<std::string> paths;
  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    const std::string path = o.substr(0, eq);
    std::vector<std::string> parts = absl::StrSplit(path, '.');
    const bool bad_path = std::any_of(parts.begin(), parts.end(), [](const std::string& p) {
      return p.empty() ||
             std::any_of(p.begin(), p.end(), [](unsigned char ch) { return std::isspace(ch); });
    });
    if (eq == std::string::npos || bad_path) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set '", o, "': expected section.key=value, e.g. workers.count=4"));
    }
    YAML::Node value;
    try {
      value = YAML::Load(o.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set '", o, "': the value is not valid YAML: ", e.msg));
    }
    if (absl::Status s = SetPath(root, parts, 0, value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--set '", o, "': ", s.message()));
    }
    paths.push_back(path);
  }
  return paths;
}

const char* const kLevels[] = {"debug", "info", "warning", "error"};

}  // namespace

// ---- Byte sizes ------------------------------------------------------------------------------

absl::StatusOr<int64_t> ParseByteSize(const std::string& text) {
  struct Unit {
    const char* suffix;
    int64_t factor;
  };
  static const Unit kUnits[] = {{"TiB", int64_t{1} << 40},
                                {"GiB", int64_t{1} << 30},
                                {"MiB", int64_t{1} << 20},
                                {"KiB", int64_t{1} << 10},
                                {"TB", 1000000000000},
                                {"GB", 1000000000},
                                {"MB", 1000000},
                                {"KB", 1000},
                                {"B", 1}};
  const std::string t(absl::StripAsciiWhitespace(text));
  int64_t factor = 1;
  std::string digits = t;
  for (const Unit& u : kUnits) {
    if (absl::EndsWith(t, u.suffix)) {
      factor = u.factor;
      digits = std::string(absl::StripAsciiWhitespace(t.substr(0, t.size() - strlen(u.suffix))));
      break;
    }
  }
  int64_t n;
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit) ||
      !absl::SimpleAtoi(digits, &n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a byte size like 4GiB or 536870912, got '", text, "'"));
  }
  if (n > INT64_MAX / factor) {
    return absl::InvalidArgumentError(absl::StrCat("byte size '", text, "' is too large"));
  }
  return n * factor;
}

std::string FormatByteSize(int64_t bytes) {
  if (bytes > 0) {
    for (const auto& [suffix, shift] :
         {std::pair{"TiB", 40}, std::pair{"GiB", 30}, std::pair{"MiB", 20}, std::pair{"KiB", 10}}) {
      if (bytes % (int64_t{1} << shift) == 0) return absl::StrCat(bytes >> shift, suffix);
    }
  }
  return absl::StrCat(bytes);
}

// ---- Validation ------------------------------------------------------------------------------

absl::Status RouterOptions::Validate() const {
  Problems p;
  CheckNotEmpty(p, "router.host", host);
  CheckPort(p, "router.http_port", http_port);
  CheckPort(p, "router.grpc_port", grpc_port);
  if (http_port == grpc_port) {
    p.Add("router.grpc_port", absl::StrCat("is the same as router.http_port (", http_port, ")"));
  }
  if (!advertise_address.empty()) CheckHostPort(p, "router.advertise_address", advertise_address);
  if (max_queue < 1) p.Add("router.max_queue", absl::StrCat("must be >= 1, got ", max_queue));
  return p.Status();
}

std::string RouterOptions::AdvertiseAddress() const {
  return advertise_address.empty() ? absl::StrCat("127.0.0.1:", grpc_port) : advertise_address;
}

absl::Status WorkerOptions::Validate() const {
  Problems p;
  CheckCount(p, "workers.count", count);
  CheckNotEmpty(p, "workers.host", host);
  CheckPortRange(p, "workers.grpc_port", grpc_port, count);
  CheckNotEmpty(p, "workers.advertise_host", advertise_host);
  if (block_size < 1 || block_size > 1024 || (block_size & (block_size - 1)) != 0) {
    p.Add("workers.block_size",
          absl::StrCat("must be a power of two in 1..1024, got ", block_size));
  }
  if (kv_cache_bytes <= 0) {
    p.Add("workers.kv_cache_bytes", absl::StrCat("must be > 0, got ", kv_cache_bytes));
  }
  if (max_num_batched_tokens < 1) {
    p.Add("workers.max_num_batched_tokens",
          absl::StrCat("must be >= 1, got ", max_num_batched_tokens));
  }
  if (max_num_seqs < 1) {
    p.Add("workers.max_num_seqs", absl::StrCat("must be >= 1, got ", max_num_seqs));
  } else if (max_num_batched_tokens >= 1 && max_num_seqs > max_num_batched_tokens) {
    p.Add("workers.max_num_seqs", absl::StrCat(max_num_seqs,
                                               " sequences cannot each decode a token in a step of "
                                               "workers.max_num_batched_tokens = ",
                                               max_num_batched_tokens));
  }
  if (max_model_len < 0) {
    p.Add("workers.max_model_len", absl::StrCat("must be >= 0, got ", max_model_len));
  }
  if (threads < 0) p.Add("workers.threads", absl::StrCat("must be >= 0, got ", threads));
  return p.Status();
}

absl::Status ExpertShardOptions::Validate() const {
  Problems p;
  CheckCount(p, "expert_shards.count", count);
  CheckNotEmpty(p, "expert_shards.host", host);
  CheckPortRange(p, "expert_shards.grpc_port", grpc_port, count);
  CheckNotEmpty(p, "expert_shards.advertise_host", advertise_host);
  if (count >= 1) {
    if (absl::Status s = placement.Validate(count); !s.ok()) {
      p.Add("expert_shards.placement", std::string(s.message()));
    }
  }
  if (threads < 0) p.Add("expert_shards.threads", absl::StrCat("must be >= 0, got ", threads));
  return p.Status();
}

absl::Status DataPlaneOptions::Validate() const {
  Problems p;
  if (transport != "ucx" && transport != "inproc") {
    p.Add("data_plane.transport", absl::StrCat("must be ucx or inproc, got '", transport, "'"));
  }
  if (transport == "ucx" &&
      (ucx_tls.empty() || std::any_of(ucx_tls.begin(), ucx_tls.end(),
                                      [](unsigned char c) { return std::isspace(c); }))) {
    p.Add("data_plane.ucx_tls",
          absl::StrCat("expected a comma-separated UCX transport list like sm,tcp, got '", ucx_tls,
                       "'"));
  }
  if (peer_timeout_ms < 1) {
    p.Add("data_plane.peer_timeout_ms", absl::StrCat("must be >= 1, got ", peer_timeout_ms));
  }
  return p.Status();
}

absl::Status HeartbeatOptions::Validate() const {
  Problems p;
  if (interval_ms < 10) {
    p.Add("heartbeat.interval_ms", absl::StrCat("must be >= 10, got ", interval_ms));
  }
  if (timeout_ms <= interval_ms) {
    p.Add("heartbeat.timeout_ms", absl::StrCat("must be greater than heartbeat.interval_ms (",
                                               interval_ms, "), got ", timeout_ms));
  }
  return p.Status();
}

absl::Status LoggingOptions::Validate() const {
  for (const char* l : kLevels) {
    if (level == l) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("logging.level: must be debug, info, warning or error, got '", level, "'"));
}

LogLevel LoggingOptions::log_level() const {
  for (int i = 0; i < 4; ++i) {
    if (level == kLevels[i]) return static_cast<LogLevel>(i);
  }
  return LogLevel::kInfo;
}

int ClusterConfig::WorkerGrpcPort(int index) const {
  return workers.grpc_port.value_or(router.grpc_port + 1) + index;
}

int ClusterConfig::ShardGrpcPort(int index) const {
  return expert_shards.grpc_port.value_or(WorkerGrpcPort(workers.count)) + index;
}

absl::Status ClusterConfig::Validate() const {
  Problems p;
  if (model.empty()) p.Add("model", "is required (the model directory)");
  p.Add(router.Validate());
  p.Add(workers.Validate());
  p.Add(expert_shards.Validate());
  p.Add(data_plane.Validate());
  p.Add(heartbeat.Validate());
  p.Add(logging.Validate());

  // Every listener on one machine needs its own port.
  struct Listener {
    std::string what;
    std::string path;
    int port;
    bool derived = false;  // from router.grpc_port, not the section's own grpc_port
  };
  std::vector<Listener> listeners = {{"router.http_port", "router.http_port", router.http_port},
                                     {"router.grpc_port", "router.grpc_port", router.grpc_port}};
  if (workers.count >= 1 && workers.count <= kMaxMembers) {
    for (int i = 0; i < workers.count; ++i) {
      listeners.push_back({absl::StrCat("worker ", i), "workers.grpc_port", WorkerGrpcPort(i),
                           !workers.grpc_port.has_value()});
    }
  }
  if (expert_shards.count >= 1 && expert_shards.count <= kMaxMembers) {
    for (int i = 0; i < expert_shards.count; ++i) {
      listeners.push_back({absl::StrCat("expert shard ", i), "expert_shards.grpc_port",
                           ShardGrpcPort(i), !expert_shards.grpc_port.has_value()});
    }
  }
  bool port_clash = false;
  for (size_t i = 0; i < listeners.size() && !port_clash; ++i) {
    if (listeners[i].port > 65535) {
      // An explicit grpc_port whose range runs past the end is reported by the section.
      if (!listeners[i].derived) break;
      p.Add(listeners[i].path, absl::StrCat(listeners[i].what, " would listen on port ",
                                            listeners[i].port, ", past 65535"));
      port_clash = true;
    }
    for (size_t j = 0; j < i && !port_clash; ++j) {
      if (listeners[i].port == listeners[j].port && listeners[i].path != "router.grpc_port") {
        // router.http_port == router.grpc_port is reported by RouterOptions::Validate.
        p.Add(listeners[i].path, absl::StrCat(listeners[i].what, "'s port ", listeners[i].port,
                                              " is already taken by ", listeners[j].what));
        port_clash = true;
      }
    }
  }
  return p.Status();
}

absl::Status ClusterConfig::ValidateForModel(const ModelConfig& m) const {
  Problems p;
  if (m.num_experts < 1) {
    p.Add("model", absl::StrCat("'", model, "' has no routed experts (model_type ", m.model_type,
                                "); expert shards need a MoE model"));
    return p.Status();
  }
  auto placement = ExpertPlacement::Resolve(expert_shards.placement,
                                            static_cast<int>(m.num_experts), expert_shards.count);
  if (!placement.ok()) {
    p.Add(expert_shards.placement.is_even() ? "expert_shards.count" : "expert_shards.placement",
          std::string(placement.status().message()));
  }
  if (workers.max_model_len > m.max_position_embeddings) {
    p.Add("workers.max_model_len",
          absl::StrCat(workers.max_model_len, " exceeds the model's max_position_embeddings (",
                       m.max_position_embeddings, ")"));
  }
  return p.Status();
}

// ---- Parsing and emitting --------------------------------------------------------------------

absl::StatusOr<ClusterConfig> ParseClusterConfig(const std::string& yaml,
                                                 const std::vector<std::string>& overrides) {
  ClusterConfig config;
  try {
    YAML::Node root = YAML::Load(yaml);
    if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the configuration must be a map of sections (model, router, workers, ...), got ",
          Describe(root)));
    }
    auto overridden = ApplyOverrides(root, overrides);
    if (!overridden.ok()) return overridden.status();
    Decoder decoder(*overridden);
    MapReader reader(&decoder, root, "");
    Decode(reader, &config);
    if (absl::Status s = decoder.problems().Status(); !s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        e.mark.is_null()
            ? std::string(e.msg)
            : absl::StrCat("line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
  return config;
}

absl::StatusOr<ClusterConfig> LoadClusterConfig(const std::string& path,
                                                const std::vector<std::string>& overrides) {
  std::string text;
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read the file"));
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto prefixed = [&](const absl::Status& s) {
    if (path.empty()) return s;
    std::vector<std::string> lines = absl::StrSplit(s.message(), '\n');
    for (std::string& l : lines) l = absl::StrCat(path, ": ", l);
    return absl::Status(s.code(), absl::StrJoin(lines, "\n"));
  };
  auto config = ParseClusterConfig(text, overrides);
  if (!config.ok()) return prefixed(config.status());
  if (absl::Status s = config->Validate(); !s.ok()) return prefixed(s);
  return config;
}

std::string ClusterConfigToYaml(const ClusterConfig& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "model" << YAML::Value << c.model;

  out << YAML::Key << "router" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "host" << YAML::Value << c.router.host;
  out << YAML::Key << "http_port" << YAML::Value << c.router.http_port;
  out << YAML::Key << "grpc_port" << YAML::Value << c.router.grpc_port;
  out << YAML::Key << "advertise_address" << YAML::Value << c.router.advertise_address;
  out << YAML::Key << "max_queue" << YAML::Value << c.router.max_queue;
  out << YAML::Key << "served_model_name" << YAML::Value << c.router.served_model_name;
  out << YAML::EndMap;

  out << YAML::Key << "workers" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "count" << YAML::Value << c.workers.count;
  out << YAML::Key << "host" << YAML::Value << c.workers.host;
  if (c.workers.grpc_port) out << YAML::Key << "grpc_port" << YAML::Value << *c.workers.grpc_port;
  out << YAML::Key << "advertise_host" << YAML::Value << c.workers.advertise_host;
  out << YAML::Key << "kv_cache_bytes" << YAML::Value << FormatByteSize(c.workers.kv_cache_bytes);
  out << YAML::Key << "block_size" << YAML::Value << c.workers.block_size;
  out << YAML::Key << "max_num_batched_tokens" << YAML::Value << c.workers.max_num_batched_tokens;
  out << YAML::Key << "max_num_seqs" << YAML::Value << c.workers.max_num_seqs;
  out << YAML::Key << "max_model_len" << YAML::Value << c.workers.max_model_len;
  out << YAML::Key << "threads" << YAML::Value << c.workers.threads;
  out << YAML::Key << "prefix_caching" << YAML::Value << c.workers.prefix_caching;
  out << YAML::EndMap;

  out << YAML::Key << "expert_shards" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "count" << YAML::Value << c.expert_shards.count;
  out << YAML::Key << "host" << YAML::Value << c.expert_shards.host;
  if (c.expert_shards.grpc_port) {
    out << YAML::Key << "grpc_port" << YAML::Value << *c.expert_shards.grpc_port;
  }
  out << YAML::Key << "advertise_host" << YAML::Value << c.expert_shards.advertise_host;
  out << YAML::Key << "placement" << YAML::Value;
  if (c.expert_shards.placement.is_even()) {
    out << "even";
  } else {
    out << YAML::BeginMap;
    for (const auto& [shard, experts] : c.expert_shards.placement.explicit_map) {
      // Ranges only for sorted lists; anything else keeps its order id by id.
      std::vector<int> sorted = experts;
      std::sort(sorted.begin(), sorted.end());
      out << YAML::Key << shard << YAML::Value << YAML::Flow << YAML::BeginSeq;
      if (sorted == experts) {
        for (absl::string_view r : absl::StrSplit(FormatExpertRanges(experts), ',')) {
          out << std::string(r);
        }
      } else {
        for (int e : experts) out << e;
      }
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::Key << "threads" << YAML::Value << c.expert_shards.threads;
  out << YAML::EndMap;

  out << YAML::Key << "data_plane" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "transport" << YAML::Value << c.data_plane.transport;
  out << YAML::Key << "ucx_tls" << YAML::Value << c.data_plane.ucx_tls;
  out << YAML::Key << "peer_timeout_ms" << YAML::Value << c.data_plane.peer_timeout_ms;
  out << YAML::EndMap;

  out << YAML::Key << "heartbeat" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "interval_ms" << YAML::Value << c.heartbeat.interval_ms;
  out << YAML::Key << "timeout_ms" << YAML::Value << c.heartbeat.timeout_ms;
  out << YAML::EndMap;

  out << YAML::Key << "logging" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "level" << YAML::Value << c.logging.level;
  out << YAML::EndMap;

  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> ClusterConfigKeys() {
  Decoder decoder({});
  ClusterConfig config;
  MapReader reader(&decoder, YAML::Node(YAML::NodeType::Map), "");
  Decode(reader, &config);
  std::vector<std::string> keys;
  // Sections themselves are not settings.
  for (const std::string& k : decoder.keys()) {
    const bool is_section =
        std::any_of(decoder.keys().begin(), decoder.keys().end(),
                    [&](const std::string& o) { return absl::StartsWith(o, k + "."); });
    if (!is_section) keys.push_back(k);
  }
  return keys;
}

}  // namespace moeserve
