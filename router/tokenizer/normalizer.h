// NFC normalization as the reference tokenizer applies it.
//
// Text made only of characters that NFC leaves alone in every context (ASCII, most letters,
// CJK, Hangul syllables, emoji...) is copied as is. Around any other character a small window
// (the preceding starter up to the next safe character) is normalized with utf8proc. Characters
// the reference's (older) NFC tables do not know are treated as plain starters: windows are cut
// there so utf8proc's newer data cannot reorder or compose across them.
//
// Stateless; safe to call from any thread.
#ifndef MOESERVE_ROUTER_TOKENIZER_NORMALIZER_H_
#define MOESERVE_ROUTER_TOKENIZER_NORMALIZER_H_

#include <string>
#include <string_view>

namespace moeserve::tokenizer {

// Appends NFC(`text`) to `out`. `text` must be well-formed UTF-8.
void AppendNfc(std::string_view text, std::string* out);

// True when AppendNfc(text) would copy `text` unchanged without looking closer (fast check;
// false does not imply that NFC changes the text).
bool IsTriviallyNfc(std::string_view text);

}  // namespace moeserve::tokenizer

#endif  // MOESERVE_ROUTER_TOKENIZER_NORMALIZER_H_
