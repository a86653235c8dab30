#include "router/tokenizer/byte_level.h"

#include <array>

#include "router/tokenizer/unicode.h"

namespace moeserve::tokenizer {
namespace {

constexpr bool IsPrintable(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

constexpr std::array<char32_t, 256> MakeByteToChar() {
  std::array<char32_t, 256> table{};
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) table[b] = IsPrintable(b) ? static_cast<char32_t>(b) : next++;
  return table;
}

constexpr std::array<char32_t, 256> kByteToChar = MakeByteToChar();

// Inverse over U+0000..U+01FF (every image lies below U+0144); -1 where unmapped.
constexpr std::array<int16_t, 512> MakeCharToByte() {
  std::array<int16_t, 512> table{};
  for (auto& v : table) v = -1;
  for (int b = 0; b < 256; ++b) table[kByteToChar[b]] = static_cast<int16_t>(b);
  return table;
}

constexpr std::array<int16_t, 512> kCharToByte = MakeCharToByte();

}  // namespace

char32_t ByteToChar(uint8_t byte) { return kByteToChar[byte]; }

std::optional<uint8_t> CharToByte(char32_t c) {
  if (c >= kCharToByte.size() || kCharToByte[c] < 0) return std::nullopt;
  return static_cast<uint8_t>(kCharToByte[c]);
}

void AppendByteLevel(std::string_view bytes, std::string* out) {
  for (char b : bytes) AppendUtf8(kByteToChar[static_cast<uint8_t>(b)], out);
}

std::optional<std::string> ByteLevelToBytes(std::string_view text) {
  std::string bytes;
  bytes.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    Utf8Step step = DecodeUtf8(text.substr(i));
    if (step.kind != Utf8Step::kOk) return std::nullopt;
    std::optional<uint8_t> b = CharToByte(step.cp);
    if (!b) return std::nullopt;
    bytes.push_back(static_cast<char>(*b));
    i += step.length;
  }
  return bytes;
}

}  // namespace moeserve::tokenizer
