#include "router/tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "nlohmann/json.hpp"
#include "router/tokenizer/byte_level.h"
#include "router/tokenizer/normalizer.h"
#include "router/tokenizer/unicode.h"

namespace moeserve::tokenizer {
namespace {

using Json = nlohmann::json;

// The pattern ByteLevel(use_regex=true) splits with.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

bool IsNullOrEmpty(const Json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty());
}

std::string TypeOf(const Json& j) {
  auto it = j.find("type");
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

absl::Status Unsupported(const char* what, const Json& j) {
  return absl::UnimplementedError(absl::StrCat("unsupported ", what, ": ", j.dump()));
}

absl::StatusOr<bool> ParseNormalizer(const Json& j) {
  if (j.is_null()) return false;
  if (TypeOf(j) == "NFC") return true;
  if (TypeOf(j) == "Sequence" && j.contains("normalizers") && j["normalizers"].is_array()) {
    const Json& list = j["normalizers"];
    if (list.empty()) return false;
    if (list.size() == 1 && TypeOf(list[0]) == "NFC") return true;
  }
  return Unsupported("normalizer", j);
}

absl::Status CheckByteLevel(const Json& j) {
  if (j.value("add_prefix_space", false)) return Unsupported("ByteLevel add_prefix_space", j);
  return absl::OkStatus();
}

// The regex pattern the configured pre-tokenizer splits on.
absl::StatusOr<std::string> ParsePreTokenizer(const Json& j) {
  std::vector<Json> steps;
  if (TypeOf(j) == "Sequence" && j.contains("pretokenizers") && j["pretokenizers"].is_array()) {
    for (const Json& step : j["pretokenizers"]) steps.push_back(step);
  } else {
    steps.push_back(j);
  }
  if (steps.size() == 1 && TypeOf(steps[0]) == "ByteLevel" && steps[0].value("use_regex", true)) {
    RETURN_IF_ERROR(CheckByteLevel(steps[0]));
    return std::string(kGpt2Pattern);
  }
  if (steps.size() == 2 && TypeOf(steps[0]) == "Split" && TypeOf(steps[1]) == "ByteLevel" &&
      !steps[1].value("use_regex", true)) {
    RETURN_IF_ERROR(CheckByteLevel(steps[1]));
    const Json& split = steps[0];
    if (split.value("behavior", "") != "Isolated" || split.value("invert", false) ||
        !split.contains("pattern") || !split["pattern"].contains("Regex") ||
        !split["pattern"]["Regex"].is_string()) {
      return Unsupported("Split pre-tokenizer", split);
    }
    return split["pattern"]["Regex"].get<std::string>();
  }
  return Unsupported("pre_tokenizer", j);
}

absl::StatusOr<std::unique_ptr<BpeModel>> ParseModel(const Json& j) {
  if (TypeOf(j) != "BPE") return Unsupported("model", j);
  if (!IsNullOrEmpty(j, "dropout") || !IsNullOrEmpty(j, "unk_token") ||
      !IsNullOrEmpty(j, "continuing_subword_prefix") || !IsNullOrEmpty(j, "end_of_word_suffix") ||
      j.value("byte_fallback", false) || j.value("ignore_merges", false)) {
    Json shown = j;
    shown.erase("vocab");
    shown.erase("merges");
    return Unsupported("BPE options", shown);
  }
  if (!j.contains("vocab") || !j["vocab"].is_object() || !j.contains("merges") ||
      !j["merges"].is_array()) {
    return absl::InvalidArgumentError("BPE model needs a vocab object and a merges array");
  }
  std::vector<std::pair<std::string, int32_t>> vocab;
  vocab.reserve(j["vocab"].size());
  for (const auto& [token, id] : j["vocab"].items()) {
    if (!id.is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat("vocab id of '", token, "' is not an int"));
    }
    vocab.emplace_back(token, id.get<int32_t>());
  }
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(j["merges"].size());
  for (const Json& merge : j["merges"]) {
    if (merge.is_string()) {
      const std::string& line = merge.get_ref<const std::string&>();
      size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("bad merge '", line, "'"));
      }
      merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      return absl::InvalidArgumentError(absl::StrCat("bad merge ", merge.dump()));
    }
  }
  return BpeModel::Create(std::move(vocab), merges);
}

absl::StatusOr<std::vector<AddedToken>> ParseAddedTokens(const Json& j) {
  std::vector<AddedToken> tokens;
  if (j.is_null()) return tokens;
  if (!j.is_array()) return absl::InvalidArgumentError("added_tokens is not an array");
  for (const Json& t : j) {
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
        !t.contains("content") || !t["content"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("bad added token ", t.dump()));
    }
    AddedToken token;
    token.id = t["id"].get<int32_t>();
    token.content = t["content"].get<std::string>();
    token.special = t.value("special", false);
    token.single_word = t.value("single_word", false);
    token.lstrip = t.value("lstrip", false);
    token.rstrip = t.value("rstrip", false);
    token.normalized = t.value("normalized", !token.special);
    if (token.id < 0) return absl::InvalidArgumentError("negative added token id");
    if (!IsValidUtf8(token.content)) {
      return absl::InvalidArgumentError("added token content is not UTF-8");
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// What the ByteLevel decoder makes of a token's text: its bytes if every character is in the
// byte-level alphabet, else the text itself.
std::string DecodedBytes(std::string_view token_text) {
  std::optional<std::string> bytes = ByteLevelToBytes(token_text);
  return bytes ? *std::move(bytes) : std::string(token_text);
}

// Ids as the reference assigns them when it loads added tokens (the ids written in the file are
// only checked): a token whose text is in the model vocabulary takes that id; others take the
// next id after the model vocabulary and the added tokens so far. Repeated texts are dropped.
std::vector<AddedToken> AssignAddedIds(const BpeModel& model, std::vector<AddedToken> tokens) {
  std::vector<AddedToken> out;
  absl::flat_hash_set<std::string> seen;
  const int32_t model_size = model.size();
  int32_t max_added = -1;
  for (AddedToken& token : tokens) {
    if (token.content.empty() || !seen.insert(token.content).second) continue;
    int32_t id;
    if (std::optional<int32_t> in_model = model.TokenToId(token.content)) {
      id = *in_model;
    } else {
      id = max_added >= model_size ? max_added + 1 : model_size;
    }
    if (id != token.id) {
      LOG(WARNING) << "added token " << token.content << " has id " << id << ", not " << token.id
                   << " as the file says (ids follow the reference's assignment)";
      token.id = id;
    }
    max_added = std::max(max_added, id);
    out.push_back(std::move(token));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& path) {
  std::filesystem::path file(path);
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) file /= "tokenizer.json";
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", file.string()));
  std::string text(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  if (!in.read(text.data(), static_cast<std::streamsize>(text.size()))) {
    return absl::DataLossError(absl::StrCat("cannot read ", file.string()));
  }
  auto tokenizer = FromJson(text);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat(file.string(), ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view json) {
  Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("tokenizer.json is not a JSON object");
  }
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  if (!j.contains("model")) return absl::InvalidArgumentError("tokenizer.json has no model");
  ASSIGN_OR_RETURN(t->bpe_, ParseModel(j["model"]));
  ASSIGN_OR_RETURN(t->nfc_, ParseNormalizer(j.value("normalizer", Json())));
  ASSIGN_OR_RETURN(std::string pattern, ParsePreTokenizer(j.value("pre_tokenizer", Json())));
  ASSIGN_OR_RETURN(t->pre_tokenizer_, PreTokenizer::ForPattern(pattern));
  const Json decoder = j.value("decoder", Json());
  if (TypeOf(decoder) != "ByteLevel") return Unsupported("decoder", decoder);
  const Json post = j.value("post_processor", Json());
  if (!post.is_null() && TypeOf(post) != "ByteLevel") return Unsupported("post_processor", post);
  ASSIGN_OR_RETURN(std::vector<AddedToken> added,
                   ParseAddedTokens(j.value("added_tokens", Json())));

  if (t->nfc_) {
    // The reference keeps a normalized token's text in normalized form, for matching (in
    // normalized text) and for decoding alike.
    for (AddedToken& token : added) {
      if (!token.normalized) continue;
      std::string normalized;
      AppendNfc(token.content, &normalized);
      token.content = std::move(normalized);
    }
  }
  added = AssignAddedIds(*t->bpe_, std::move(added));
  int32_t limit = t->bpe_->id_limit();
  for (const AddedToken& token : added) limit = std::max(limit, token.id + 1);
  t->decode_.assign(limit, DecodeEntry{});
  for (int32_t id = 0; id < t->bpe_->id_limit(); ++id) {
    if (t->bpe_->IdToToken(id) != nullptr) t->decode_[id].kind = DecodeEntry::kModel;
  }
  for (size_t i = 0; i < added.size(); ++i) {
    DecodeEntry& entry = t->decode_[added[i].id];
    entry.kind = added[i].special ? DecodeEntry::kSpecial : DecodeEntry::kAdded;
    entry.added_index = static_cast<int32_t>(i);
    t->added_bytes_.push_back(DecodedBytes(added[i].content));
  }
  t->added_ = std::make_unique<AddedVocabulary>(std::move(added));
  return t;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool allow_special) const {
  std::string repaired;
  if (!IsValidUtf8(text)) {
    AppendUtf8Lossy(text, &repaired);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (!added_->HasTokens(AddedVocabulary::Pass::kRaw)) {
    EncodeNormalizable(text, allow_special, &ids);
    return ids;
  }
  std::vector<TextSegment> segments;
  added_->Split(text, AddedVocabulary::Pass::kRaw, allow_special, &segments);
  for (const TextSegment& segment : segments) {
    if (segment.token_id >= 0) {
      ids.push_back(segment.token_id);
    } else {
      EncodeNormalizable(segment.text, allow_special, &ids);
    }
  }
  return ids;
}

void Tokenizer::EncodeNormalizable(std::string_view text, bool allow_special,
                                   std::vector<int32_t>* ids) const {
  std::string normalized;
  if (nfc_ && !IsTriviallyNfc(text)) {
    AppendNfc(text, &normalized);
    text = normalized;
  }
  if (!added_->HasTokens(AddedVocabulary::Pass::kNormalized)) {
    EncodePlain(text, ids);
    return;
  }
  std::vector<TextSegment> segments;
  added_->Split(text, AddedVocabulary::Pass::kNormalized, allow_special, &segments);
  for (const TextSegment& segment : segments) {
    if (segment.token_id >= 0) {
      ids->push_back(segment.token_id);
    } else {
      EncodePlain(segment.text, ids);
    }
  }
}

void Tokenizer::EncodePlain(std::string_view text, std::vector<int32_t>* ids) const {
  std::vector<std::string_view> pieces;
  pieces.reserve(text.size() / 4 + 1);
  pre_tokenizer_->Split(text, &pieces);
  for (std::string_view piece : pieces) bpe_->Encode(piece, ids);
}

absl::Status Tokenizer::AppendTokenBytes(absl::Span<const int32_t> ids, bool skip_special,
                                         std::string* bytes) const {
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size() || decode_[id].kind == DecodeEntry::kUnknown) {
      return absl::InvalidArgumentError(absl::StrCat("unknown token id ", id));
    }
    const DecodeEntry& entry = decode_[id];
    switch (entry.kind) {
      case DecodeEntry::kModel:
        bytes->append(*bpe_->IdToBytes(id));
        break;
      case DecodeEntry::kSpecial:
        if (skip_special) break;
        [[fallthrough]];
      case DecodeEntry::kAdded:
        bytes->append(added_bytes_[entry.added_index]);
        break;
      case DecodeEntry::kUnknown:
        break;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Tokenizer::Decode(absl::Span<const int32_t> ids,
                                              bool skip_special) const {
  std::string bytes;
  RETURN_IF_ERROR(AppendTokenBytes(ids, skip_special, &bytes));
  if (IsValidUtf8(bytes)) return bytes;
  std::string text;
  AppendUtf8Lossy(bytes, &text);
  return text;
}

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  for (const AddedToken& added : added_->tokens()) {
    if (added.content == token) return added.id;
  }
  return bpe_->TokenToId(token);
}

std::optional<std::string_view> Tokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return std::nullopt;
  const DecodeEntry& entry = decode_[id];
  if (entry.kind == DecodeEntry::kAdded || entry.kind == DecodeEntry::kSpecial) {
    return std::string_view(added_->tokens()[entry.added_index].content);
  }
  if (const std::string* token = bpe_->IdToToken(id)) return std::string_view(*token);
  return std::nullopt;
}

bool Tokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && decode_[id].kind == DecodeEntry::kSpecial;
}

}  // namespace moeserve::tokenizer
