// Added tokens (special and not) and how they are found in text before BPE.
//
// As in the reference: tokens with normalized=false are matched on the raw text, the rest on the
// NFC text of what lies between raw matches. Matching is leftmost-longest and non-overlapping
// over a byte trie; a match is then vetted by the token's flags (single_word needs non-word
// characters or the text edge on both sides; lstrip/rstrip absorb adjacent whitespace) and a
// vetoed match is skipped without rescanning inside it, exactly like the reference's
// aho-corasick loop. With allow_special=false, special tokens are not matched at all (the
// reference's split_special_tokens / encode_special_tokens).
//
// Immutable after construction; const methods are thread-safe.
#ifndef MOESERVE_ROUTER_TOKENIZER_ADDED_VOCABULARY_H_
#define MOESERVE_ROUTER_TOKENIZER_ADDED_VOCABULARY_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace moeserve::tokenizer {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
};

// A piece of text: either an added token (token_id >= 0) or plain text (token_id == -1).
struct TextSegment {
  std::string_view text;
  int32_t token_id;
};

class AddedVocabulary {
 public:
  // Which tokens a Split() call looks for.
  enum class Pass { kRaw, kNormalized };

  // Normalized tokens must already hold their normalized content (they are matched in
  // normalized text).
  explicit AddedVocabulary(std::vector<AddedToken> tokens);

  // Appends the segments of `text` to `out`; they cover `text` (an added token's segment
  // includes any whitespace its lstrip/rstrip absorbed) and plain segments are non-empty.
  void Split(std::string_view text, Pass pass, bool allow_special,
             std::vector<TextSegment>* out) const;

  // True when Split(pass) can ever match anything.
  bool HasTokens(Pass pass) const { return !tries_[static_cast<int>(pass)].nodes.empty(); }

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  struct Trie {
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> children;  // (byte, node index)
      int32_t token = -1;                                 // Index into tokens_.
    };
    std::vector<Node> nodes;  // nodes[0] is the root when non-empty.
    std::array<bool, 256> first_byte{};
  };
  // Index into tokens_ of the longest token starting at text[pos], and its length; -1 if none.
  static std::pair<int32_t, size_t> LongestAt(const Trie& trie, std::string_view text, size_t pos);

  std::vector<AddedToken> tokens_;
  std::array<Trie, 2> tries_;
};

}  // namespace moeserve::tokenizer

#endif  // MOESERVE_ROUTER_TOKENIZER_ADDED_VOCABULARY_H_
