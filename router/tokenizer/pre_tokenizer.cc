#include "router/tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <string>

#include "absl/strings/str_cat.h"
#include "router/tokenizer/unicode.h"

namespace moeserve::tokenizer {
namespace {

constexpr std::array<uint8_t, 128> MakeAsciiFlags() {
  std::array<uint8_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) t[c] = kLetter | kWord;
    if (c >= '0' && c <= '9') t[c] = kNumber | kWord;
    if ((c >= 9 && c <= 13) || c == ' ') t[c] = kSpace;
    if (c == '_') t[c] = kWord;
  }
  return t;
}
constexpr std::array<uint8_t, 128> kAsciiFlags = MakeAsciiFlags();

struct Ch {
  char32_t cp;
  uint8_t flags;
  uint8_t len;
};

// Hand-written scanner for kQwenPattern. Each alternative is tried in order at the current
// position, as the backtracking regex engine does; comments show the alternative.
class QwenSplitter final : public PreTokenizer {
 public:
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const override {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = MatchAt(text, pos);
      pieces->push_back(text.substr(pos, end - pos));
      pos = end;
    }
  }

 private:
  static Ch At(std::string_view t, size_t i) {
    const auto b = static_cast<uint8_t>(t[i]);
    if (b < 0x80) return {b, kAsciiFlags[b], 1};
    Utf8Step s = DecodeUtf8(t.substr(i));
    return {s.cp, CharFlags(s.cp), s.length};
  }
  static bool IsL(const Ch& c) { return c.flags & kLetter; }
  static bool IsN(const Ch& c) { return c.flags & kNumber; }
  static bool IsS(const Ch& c) { return c.flags & kSpace; }
  static bool IsOther(const Ch& c) { return !(c.flags & (kLetter | kNumber | kSpace)); }
  static bool IsCrLf(char32_t cp) { return cp == '\r' || cp == '\n'; }

  // Simple case folding, restricted to what the contraction letters need (U+017F folds to s).
  static char32_t Fold(char32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + ('a' - 'A');
    if (cp == 0x17F) return 's';
    return cp;
  }

  static size_t EndOfLetters(std::string_view t, size_t i) {
    while (i < t.size()) {
      Ch c = At(t, i);
      if (!IsL(c)) break;
      i += c.len;
    }
    return i;
  }

  // [^\s\p{L}\p{N}]+[\r\n]* starting at i (t[i] is known to be in the class).
  static size_t EndOfOthersThenNewlines(std::string_view t, size_t i) {
    while (i < t.size()) {
      Ch c = At(t, i);
      if (!IsOther(c)) break;
      i += c.len;
    }
    while (i < t.size() && IsCrLf(static_cast<uint8_t>(t[i]))) ++i;
    return i;
  }

  static size_t MatchAt(std::string_view t, size_t pos) {
    const size_t n = t.size();
    const Ch c = At(t, pos);
    const size_t next = pos + c.len;
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (c.cp == '\'' && next < n) {
      const Ch d = At(t, next);
      const char32_t f = Fold(d.cp);
      const size_t after = next + d.len;
      if (f == 's' || f == 't' || f == 'm' || f == 'd') return after;
      if ((f == 'r' || f == 'v' || f == 'l') && after < n) {
        const Ch e = At(t, after);
        if (Fold(e.cp) == (f == 'l' ? 'l' : 'e')) return after + e.len;
      }
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (IsL(c)) return EndOfLetters(t, next);
    if (!IsN(c) && !IsCrLf(c.cp) && next < n && IsL(At(t, next))) return EndOfLetters(t, next);
    // \p{N}
    if (IsN(c)) return next;
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    if (c.cp == ' ' && next < n && IsOther(At(t, next))) return EndOfOthersThenNewlines(t, next);
    if (IsOther(c)) return EndOfOthersThenNewlines(t, pos);
    // c is whitespace. Scan the whole run, remembering the last CR/LF and the last character.
    size_t end = pos, after_last_newline = 0, last_char = pos;
    while (end < n) {
      Ch w = At(t, end);
      if (!IsS(w)) break;
      last_char = end;
      end += w.len;
      if (IsCrLf(w.cp)) after_last_newline = end;
    }
    // \s*[\r\n]+ : \s* backs off to the last CR/LF, which [\r\n]+ then takes alone.
    if (after_last_newline != 0) return after_last_newline;
    // \s+(?!\S) : the whole run at the end of text, else all but the last character.
    if (end == n) return end;
    if (last_char > pos) return last_char;
    // \s+
    return end;
  }
};

struct Pcre2CodeDeleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
struct Pcre2MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};
struct Pcre2MatchContextDeleter {
  void operator()(pcre2_match_context* ctx) const { pcre2_match_context_free(ctx); }
};

// Generic Isolated split on a PCRE2 pattern. A match that fails on the match limit ends the
// matching: the rest of the text becomes one piece (never an error on user text).
class Pcre2Splitter final : public PreTokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> Create(std::string_view pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    std::unique_ptr<pcre2_code, Pcre2CodeDeleter> code(
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                      PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr));
    if (!code) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      return absl::InvalidArgumentError(absl::StrCat("pre-tokenizer pattern does not compile at ",
                                                     offset, ": ",
                                                     reinterpret_cast<char*>(message)));
    }
    pcre2_jit_compile(code.get(), PCRE2_JIT_COMPLETE);  // Falls back to the interpreter.
    std::unique_ptr<pcre2_match_context, Pcre2MatchContextDeleter> context(
        pcre2_match_context_create(nullptr));
    pcre2_set_match_limit(context.get(), 1'000'000);
    return std::unique_ptr<PreTokenizer>(new Pcre2Splitter(std::move(code), std::move(context)));
  }

  void Split(std::string_view text, std::vector<std::string_view>* pieces) const override {
    std::unique_ptr<pcre2_match_data, Pcre2MatchDataDeleter> data(
        pcre2_match_data_create_from_pattern(code_.get(), nullptr));
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t emitted = 0, start = 0;
    while (start < text.size()) {
      int rc = pcre2_match(code_.get(), subject, text.size(), start, PCRE2_NO_UTF_CHECK, data.get(),
                           context_.get());
      if (rc < 0) break;
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data.get());
      size_t m_begin = ovector[0], m_end = ovector[1];
      if (m_end == m_begin) {  // Empty match: step over one character.
        if (m_begin >= text.size()) break;
        start = m_begin + DecodeUtf8(text.substr(m_begin)).length;
        continue;
      }
      if (m_begin > emitted) pieces->push_back(text.substr(emitted, m_begin - emitted));
      pieces->push_back(text.substr(m_begin, m_end - m_begin));
      emitted = start = m_end;
    }
    if (emitted < text.size()) pieces->push_back(text.substr(emitted));
  }

 private:
  Pcre2Splitter(std::unique_ptr<pcre2_code, Pcre2CodeDeleter> code,
                std::unique_ptr<pcre2_match_context, Pcre2MatchContextDeleter> context)
      : code_(std::move(code)), context_(std::move(context)) {}

  std::unique_ptr<pcre2_code, Pcre2CodeDeleter> code_;
  std::unique_ptr<pcre2_match_context, Pcre2MatchContextDeleter> context_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::ForPattern(std::string_view pattern) {
  if (pattern == kQwenPattern) return std::unique_ptr<PreTokenizer>(new QwenSplitter());
  return Pcre2Splitter::Create(pattern);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::ForPatternWithPcre2(
    std::string_view pattern) {
  return Pcre2Splitter::Create(pattern);
}

}  // namespace moeserve::tokenizer
