// The GPT-2 "byte level" alphabet: each of the 256 byte values is shown as one printable Unicode
// character, so BPE vocabularies can be stored as text. Printable Latin-1 bytes map to
// themselves; the others map to U+0100 and up, in byte order.
//
// Pure functions over constant tables; safe from any thread.
#ifndef MOESERVE_ROUTER_TOKENIZER_BYTE_LEVEL_H_
#define MOESERVE_ROUTER_TOKENIZER_BYTE_LEVEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moeserve::tokenizer {

// The character that stands for `byte`.
char32_t ByteToChar(uint8_t byte);

// The byte that `c` stands for, or nullopt when `c` is not in the alphabet.
std::optional<uint8_t> CharToByte(char32_t c);

// Appends the byte-level text (UTF-8) of raw `bytes` to `out`.
void AppendByteLevel(std::string_view bytes, std::string* out);

// Maps byte-level text back to raw bytes. Returns nullopt when `text` is not valid UTF-8 or holds
// a character outside the alphabet.
std::optional<std::string> ByteLevelToBytes(std::string_view text);

}  // namespace moeserve::tokenizer

#endif  // MOESERVE_ROUTER_TOKENIZER_BYTE_LEVEL_H_
