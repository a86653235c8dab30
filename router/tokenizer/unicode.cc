#include "router/tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

namespace moeserve::tokenizer {
namespace {

struct CodepointRange {
  char32_t first;
  char32_t last;
};

#include "router/tokenizer/unicode_tables.inc"

constexpr char32_t kMaxCodepoint = 0x10FFFF;
constexpr int kBlockBits = 8;
constexpr int kBlockSize = 1 << kBlockBits;
constexpr int kNumBlocks = (kMaxCodepoint + 1) >> kBlockBits;

// Two-level lookup table: block index per 256 code points, deduplicated blocks of flags.
class FlagTable {
 public:
  FlagTable() {
    std::vector<uint8_t> flags(kMaxCodepoint + 1, 0);
    auto mark = [&](const CodepointRange* ranges, size_t n, uint8_t bit) {
      for (size_t i = 0; i < n; ++i) {
        for (char32_t c = ranges[i].first; c <= ranges[i].last; ++c) flags[c] |= bit;
      }
    };
    mark(kLetterRanges, std::size(kLetterRanges), kLetter);
    mark(kNumberRanges, std::size(kNumberRanges), kNumber);
    mark(kSpaceRanges, std::size(kSpaceRanges), kSpace);
    mark(kNfcOpaqueRanges, std::size(kNfcOpaqueRanges), kNfcOpaque | kNfcUnsafe);
    for (char32_t c = 0x80; c <= kMaxCodepoint; ++c) {
      if (c >= 0xD800 && c <= 0xDFFF) continue;
      const utf8proc_property_t* prop = utf8proc_get_property(static_cast<utf8proc_int32_t>(c));
      switch (prop->category) {
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_PC:
          flags[c] |= kWord;
          break;
        default:
          break;
      }
      if (prop->combining_class != 0) flags[c] |= kNfcUnsafe;
      MarkDecomposition(c, &flags);
    }
    for (char32_t c = 0; c < 0x80; ++c) {
      if (c == '_' || (c >= '0' && c <= '9')) flags[c] |= kWord;
    }
    for (char32_t c = 0; c <= kMaxCodepoint; ++c) {
      if (flags[c] & kLetter) flags[c] |= kWord;
    }
    flags[0x200C] |= kWord;
    flags[0x200D] |= kWord;

    std::map<std::array<uint8_t, kBlockSize>, uint16_t> seen;
    for (int b = 0; b < kNumBlocks; ++b) {
      std::array<uint8_t, kBlockSize> block;
      std::copy(flags.begin() + (b << kBlockBits), flags.begin() + ((b + 1) << kBlockBits),
                block.begin());
      auto [it, inserted] = seen.emplace(block, static_cast<uint16_t>(blocks_.size()));
      if (inserted) blocks_.push_back(block);
      index_[b] = it->second;
    }
  }

  uint8_t Get(char32_t cp) const {
    if (cp > kMaxCodepoint) return 0;
    return blocks_[index_[cp >> kBlockBits]][cp & (kBlockSize - 1)];
  }

 private:
  // Characters after the first in a canonical decomposition can be the second half of a
  // composition; a character whose NFC differs from itself (singletons, exclusions) never
  // survives NFC. Both make NFC change text.
  static void MarkDecomposition(char32_t c, std::vector<uint8_t>* flags) {
    utf8proc_int32_t buf[8];
    int last_boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 8,
                                                 UTF8PROC_DECOMPOSE, &last_boundclass);
    if (n <= 0 || (n == 1 && static_cast<char32_t>(buf[0]) == c)) return;
    for (utf8proc_ssize_t i = 1; i < n && i < 8; ++i) (*flags)[buf[i]] |= kNfcUnsafe;
    if (c >= 0xAC00 && c <= 0xD7A3) return;  // Hangul syllables are their own NFC.
    std::string one;
    AppendUtf8(c, &one);
    utf8proc_uint8_t* out = nullptr;
    utf8proc_ssize_t len =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(one.data()),
                     static_cast<utf8proc_ssize_t>(one.size()), &out,
                     static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (len < 0 || std::string_view(reinterpret_cast<char*>(out), len) != one) {
      (*flags)[c] |= kNfcUnsafe;
    }
    std::free(out);
  }

  std::array<uint16_t, kNumBlocks> index_;
  std::vector<std::array<uint8_t, kBlockSize>> blocks_;
};

const FlagTable& Flags() {
  static const FlagTable* table = new FlagTable();
  return *table;
}

inline bool InRange(uint8_t b, uint8_t lo, uint8_t hi) { return b >= lo && b <= hi; }

}  // namespace

Utf8Step DecodeUtf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  const uint8_t b0 = p[0];
  if (b0 < 0x80) return {Utf8Step::kOk, 1, b0};
  int need;
  uint8_t lo = 0x80, hi = 0xBF;
  char32_t cp;
  if (InRange(b0, 0xC2, 0xDF)) {
    need = 2;
    cp = b0 & 0x1F;
  } else if (InRange(b0, 0xE0, 0xEF)) {
    need = 3;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (InRange(b0, 0xF0, 0xF4)) {
    need = 4;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {Utf8Step::kInvalid, 1, kReplacementChar};
  }
  for (int i = 1; i < need; ++i) {
    if (static_cast<size_t>(i) >= n) {
      return {Utf8Step::kTruncated, static_cast<uint8_t>(i), kReplacementChar};
    }
    const uint8_t b = p[i];
    if (i == 1 ? !InRange(b, lo, hi) : !InRange(b, 0x80, 0xBF)) {
      return {Utf8Step::kInvalid, static_cast<uint8_t>(i), kReplacementChar};
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  return {Utf8Step::kOk, static_cast<uint8_t>(need), cp};
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsValidUtf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (static_cast<uint8_t>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    Utf8Step step = DecodeUtf8(bytes.substr(i));
    if (step.kind != Utf8Step::kOk) return false;
    i += step.length;
  }
  return true;
}

void AppendUtf8Lossy(std::string_view bytes, std::string* out) {
  size_t i = 0;
  while (i < bytes.size()) {
    size_t start = i;
    while (i < bytes.size() && static_cast<uint8_t>(bytes[i]) < 0x80) ++i;
    Utf8Step step{};
    while (i < bytes.size()) {
      step = DecodeUtf8(bytes.substr(i));
      if (step.kind != Utf8Step::kOk) break;
      i += step.length;
    }
    out->append(bytes.data() + start, i - start);
    if (i < bytes.size()) {
      AppendUtf8(kReplacementChar, out);
      i += step.length;
    }
  }
}

uint8_t CharFlags(char32_t cp) { return Flags().Get(cp); }

}  // namespace moeserve::tokenizer
