// UTF-8 decoding with the Unicode "maximal subpart" error policy, and the character classes the
// pre-tokenizer and normalizer need.
//
// The classes (\p{L}, \p{N}, \s as the reference tokenizer's regex engine sees them) come from
// unicode_tables.inc, generated from Hugging Face `tokenizers` by
// tools/tokenizer/gen_unicode_tables.js, so they agree with the reference even where Debian's
// utf8proc has an older Unicode version. Lookup tables are immutable after their one-time,
// thread-safe construction; every function here is safe to call from any thread.
#ifndef MOESERVE_ROUTER_TOKENIZER_UNICODE_H_
#define MOESERVE_ROUTER_TOKENIZER_UNICODE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace moeserve::tokenizer {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// One step of UTF-8 decoding at the start of a byte range.
struct Utf8Step {
  enum Kind : uint8_t {
    kOk,         // `length` bytes form the well-formed character `cp`.
    kInvalid,    // `length` bytes (1-3) are a maximal ill-formed subpart: one U+FFFD.
    kTruncated,  // All remaining bytes (`length`) are a proper prefix of a well-formed character.
  };
  Kind kind;
  uint8_t length;
  char32_t cp;
};

// Decodes the character at the start of `bytes` (non-empty).
Utf8Step DecodeUtf8(std::string_view bytes);

// Appends the UTF-8 encoding of `cp` (a scalar value) to `out`.
void AppendUtf8(char32_t cp, std::string* out);

// True when `bytes` is well-formed UTF-8.
bool IsValidUtf8(std::string_view bytes);

// Appends `bytes` to `out`, replacing each maximal ill-formed subpart (and a truncated sequence at
// the end) with U+FFFD: the policy of Rust's String::from_utf8_lossy and Python's
// errors='replace'.
void AppendUtf8Lossy(std::string_view bytes, std::string* out);

// Character class bits, see CharFlags().
enum CharFlag : uint8_t {
  kLetter = 1 << 0,     // \p{L}
  kNumber = 1 << 1,     // \p{N}
  kSpace = 1 << 2,      // \s (Unicode White_Space)
  kWord = 1 << 3,       // \w: alphabetic, marks, decimal digits, connector punctuation, joiners
  kNfcUnsafe = 1 << 4,  // NFC may change text around this character (see normalizer.h)
  kNfcOpaque = 1 << 5,  // The reference NFC does not know this character (treat it as a starter)
};

// The CharFlag bits of code point `cp` (0 for values above U+10FFFF).
uint8_t CharFlags(char32_t cp);

}  // namespace moeserve::tokenizer

#endif  // MOESERVE_ROUTER_TOKENIZER_UNICODE_H_
