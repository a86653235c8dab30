#include "router/tokenizer/added_vocabulary.h"

#include "router/tokenizer/unicode.h"

namespace moeserve::tokenizer {
namespace {

// The last character of text[0, end), or 0 with *start = end when there is none.
char32_t CharBefore(std::string_view text, size_t end, size_t* start) {
  size_t i = end;
  while (i > 0) {
    --i;
    if ((static_cast<uint8_t>(text[i]) & 0xC0) != 0x80) break;
  }
  *start = i;
  if (i == end) return 0;
  return DecodeUtf8(text.substr(i, end - i)).cp;
}

bool IsWordChar(char32_t cp) { return CharFlags(cp) & kWord; }
bool IsSpaceChar(char32_t cp) { return CharFlags(cp) & kSpace; }

}  // namespace

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const AddedToken& token = tokens_[t];
    const std::string& content = token.content;
    if (content.empty()) continue;
    Trie& trie = tries_[static_cast<int>(token.normalized ? Pass::kNormalized : Pass::kRaw)];
    if (trie.nodes.empty()) trie.nodes.emplace_back();
    int32_t node = 0;
    for (char ch : content) {
      const auto b = static_cast<uint8_t>(ch);
      int32_t child = -1;
      for (const auto& [byte, index] : trie.nodes[node].children) {
        if (byte == b) child = index;
      }
      if (child < 0) {
        child = static_cast<int32_t>(trie.nodes.size());
        trie.nodes[node].children.emplace_back(b, child);
        trie.nodes.emplace_back();
      }
      node = child;
    }
    // For duplicate contents the first token wins.
    if (trie.nodes[node].token < 0) trie.nodes[node].token = static_cast<int32_t>(t);
    trie.first_byte[static_cast<uint8_t>(content[0])] = true;
  }
}

std::pair<int32_t, size_t> AddedVocabulary::LongestAt(const Trie& trie, std::string_view text,
                                                      size_t pos) {
  int32_t node = 0, best = -1;
  size_t best_len = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto b = static_cast<uint8_t>(text[i]);
    int32_t child = -1;
    for (const auto& [byte, index] : trie.nodes[node].children) {
      if (byte == b) {
        child = index;
        break;
      }
    }
    if (child < 0) break;
    node = child;
    if (trie.nodes[node].token >= 0) {
      best = trie.nodes[node].token;
      best_len = i + 1 - pos;
    }
  }
  return {best, best_len};
}

void AddedVocabulary::Split(std::string_view text, Pass pass, bool allow_special,
                            std::vector<TextSegment>* out) const {
  const Trie& trie = tries_[static_cast<int>(pass)];
  size_t emitted = 0;  // text[0, emitted) has been given to `out`.
  size_t pos = 0;      // Where the next search starts.
  if (!trie.nodes.empty()) {
    while (pos < text.size()) {
      if (!trie.first_byte[static_cast<uint8_t>(text[pos])]) {
        ++pos;
        continue;
      }
      auto [index, length] = LongestAt(trie, text, pos);
      if (index < 0) {
        ++pos;
        continue;
      }
      const AddedToken& token = tokens_[index];
      size_t start = pos, stop = pos + length;
      pos = stop;  // A vetoed match is not rescanned.
      if (token.special && !allow_special) continue;
      if (token.single_word) {
        size_t before_start;
        const bool word_before = start > 0 && IsWordChar(CharBefore(text, start, &before_start));
        const bool word_after = stop < text.size() && IsWordChar(DecodeUtf8(text.substr(stop)).cp);
        if (word_before || word_after) continue;
      }
      if (token.lstrip) {
        size_t s = start;
        while (s > 0) {
          size_t prev;
          char32_t cp = CharBefore(text, s, &prev);
          if (!IsSpaceChar(cp)) break;
          s = prev;
        }
        start = std::max(s, emitted);
      }
      if (token.rstrip) {
        while (stop < text.size()) {
          Utf8Step step = DecodeUtf8(text.substr(stop));
          if (step.kind != Utf8Step::kOk || !IsSpaceChar(step.cp)) break;
          stop += step.length;
        }
      }
      if (start > emitted) out->push_back({text.substr(emitted, start - emitted), -1});
      out->push_back({text.substr(start, stop - start), token.id});
      emitted = stop;
    }
  }
  if (emitted < text.size()) out->push_back({text.substr(emitted), -1});
}

}  // namespace moeserve::tokenizer
