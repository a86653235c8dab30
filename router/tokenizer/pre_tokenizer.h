// Pre-tokenization: cutting normalized text into the pieces that BPE encodes one at a time.
//
// The reference configuration is a `Split` on a regex with behavior `Isolated` (matches and the
// gaps between them are all pieces). Qwen's pattern
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//   \s*[\r\n]+|\s+(?!\S)|\s+
// is recognized and run by a hand-written scanner over the character classes of unicode.h
// (backtracking semantics reproduced exactly, no regex engine on user text). Any other pattern
// runs on PCRE2 (UTF + UCP, JIT, bounded match limit).
//
// Splitters are immutable after construction; Split() is const and thread-safe.
#ifndef MOESERVE_ROUTER_TOKENIZER_PRE_TOKENIZER_H_
#define MOESERVE_ROUTER_TOKENIZER_PRE_TOKENIZER_H_

#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace moeserve::tokenizer {

// The Split pattern of Qwen2/Qwen3 tokenizer.json files.
inline constexpr std::string_view kQwenPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|)"
    R"(\s*[\r\n]+|\s+(?!\S)|\s+)";

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;

  // Appends to `pieces` the pieces of `text` (well-formed UTF-8), in order; they cover `text`
  // exactly and none is empty.
  virtual void Split(std::string_view text, std::vector<std::string_view>* pieces) const = 0;

  // A splitter for an Isolated Split on `pattern`: the hand-written scanner for kQwenPattern,
  // PCRE2 otherwise (InvalidArgument when the pattern does not compile).
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> ForPattern(std::string_view pattern);

  // The PCRE2 splitter even for kQwenPattern (tests compare it with the scanner).
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> ForPatternWithPcre2(
      std::string_view pattern);
};

}  // namespace moeserve::tokenizer

#endif  // MOESERVE_ROUTER_TOKENIZER_PRE_TOKENIZER_H_
