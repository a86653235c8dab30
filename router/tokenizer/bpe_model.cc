#include "router/tokenizer/bpe_model.h"

#include <limits>
#include <queue>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "router/tokenizer/byte_level.h"
#include "router/tokenizer/unicode.h"

namespace moeserve::tokenizer {
namespace {

// Words up to this many symbols use the simple scan; longer ones the priority queue.
constexpr size_t kShortWordSymbols = 64;

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(
    std::vector<std::pair<std::string, int32_t>> vocab,
    const std::vector<std::pair<std::string, std::string>>& merges) {
  std::unique_ptr<BpeModel> model(new BpeModel());
  int32_t limit = 0;
  for (const auto& [token, id] : vocab) {
    if (id < 0) return absl::InvalidArgumentError(absl::StrCat("negative id for token ", token));
    limit = std::max(limit, id + 1);
  }
  model->tokens_.resize(limit);
  model->token_bytes_.resize(limit);
  model->present_.assign(limit, false);
  model->token_to_id_.reserve(vocab.size());
  for (auto& [token, id] : vocab) {
    if (model->present_[id]) {
      return absl::InvalidArgumentError(absl::StrCat("id ", id, " appears twice in the vocab"));
    }
    std::optional<std::string> bytes = ByteLevelToBytes(token);
    if (!bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("vocab token '", token, "' is not byte-level text"));
    }
    model->present_[id] = true;
    model->token_bytes_[id] = std::move(*bytes);
    if (!model->token_to_id_.emplace(token, id).second) {
      return absl::InvalidArgumentError(absl::StrCat("token '", token, "' appears twice"));
    }
    model->tokens_[id] = std::move(token);
  }
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    AppendUtf8(ByteToChar(static_cast<uint8_t>(b)), &ch);
    std::optional<int32_t> id = model->TokenToId(ch);
    if (!id) return absl::InvalidArgumentError(absl::StrCat("vocab lacks byte ", b));
    model->byte_ids_[b] = *id;
  }
  model->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    std::optional<int32_t> a = model->TokenToId(left), b = model->TokenToId(right);
    std::optional<int32_t> merged = model->TokenToId(absl::StrCat(left, right));
    if (!a || !b || !merged) {
      return absl::InvalidArgumentError(
          absl::StrCat("merge ", rank, " ('", left, "', '", right, "') is out of the vocab"));
    }
    // The first occurrence of a pair wins, as in the reference.
    model->merges_.try_emplace(PairKey(*a, *b), Merge{static_cast<int32_t>(rank), *merged});
  }
  return model;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = token_to_id_.find(absl::string_view(token.data(), token.size()));
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || id >= id_limit() || !present_[id]) return nullptr;
  return &tokens_[id];
}

const std::string* BpeModel::IdToBytes(int32_t id) const {
  if (id < 0 || id >= id_limit() || !present_[id]) return nullptr;
  return &token_bytes_[id];
}

void BpeModel::MergeShortWord(std::vector<int32_t>* symbols) const {
  std::vector<int32_t>& s = *symbols;
  constexpr int32_t kNone = std::numeric_limits<int32_t>::max();
  // ranks[i]: rank of merging s[i] and s[i + 1]; merged[i]: the resulting id.
  int32_t ranks[kShortWordSymbols], merged[kShortWordSymbols];
  size_t n = s.size();
  for (size_t i = 0; i + 1 < n; ++i) {
    const Merge* m = FindMerge(s[i], s[i + 1]);
    ranks[i] = m ? m->rank : kNone;
    merged[i] = m ? m->id : -1;
  }
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == kNone) break;
    s[best] = merged[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      s[i] = s[i + 1];
      ranks[i] = ranks[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    for (size_t i = best > 0 ? best - 1 : 0; i <= best && i + 1 < n; ++i) {
      const Merge* m = FindMerge(s[i], s[i + 1]);
      ranks[i] = m ? m->rank : kNone;
      merged[i] = m ? m->id : -1;
    }
  }
  s.resize(n);
}

void BpeModel::MergeLongWord(std::vector<int32_t>* symbols) const {
  std::vector<int32_t>& s = *symbols;
  const int n = static_cast<int>(s.size());
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push = [&](int pos) {
    if (pos < 0 || next[pos] < 0) return;
    if (const Merge* m = FindMerge(s[pos], s[next[pos]])) queue.push({m->rank, pos, m->id});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    if (!alive[top.pos] || next[top.pos] < 0) continue;
    const int right = next[top.pos];
    const Merge* m = FindMerge(s[top.pos], s[right]);
    if (m == nullptr || m->id != top.id) continue;  // Stale: a side has changed since.
    s[top.pos] = top.id;
    alive[right] = false;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    push(prev[top.pos]);
    push(top.pos);
  }
  size_t out = 0;
  for (int i = 0; i < n; ++i) {
    if (alive[i]) s[out++] = s[i];
  }
  s.resize(out);
}

void BpeModel::Encode(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.size() == 1) {
    ids->push_back(byte_ids_[static_cast<uint8_t>(word[0])]);
    return;
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  const absl::string_view key(word.data(), word.size());
  CacheShard* shard = nullptr;
  if (cacheable) {
    shard = &cache_[absl::HashOf(key) % kCacheShards];
    absl::ReaderMutexLock lock(&shard->mu);
    auto it = shard->words.find(key);
    if (it != shard->words.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> symbols(word.size());
  for (size_t i = 0; i < word.size(); ++i) symbols[i] = byte_ids_[static_cast<uint8_t>(word[i])];
  if (symbols.size() <= kShortWordSymbols) {
    MergeShortWord(&symbols);
  } else {
    MergeLongWord(&symbols);
  }
  ids->insert(ids->end(), symbols.begin(), symbols.end());
  if (cacheable) {
    absl::MutexLock lock(&shard->mu);
    if (shard->words.size() >= kCacheShardCapacity) shard->words.clear();
    shard->words.emplace(key, std::move(symbols));
  }
}

}  // namespace moeserve::tokenizer
