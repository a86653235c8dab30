#include "router/tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

#include "router/tokenizer/unicode.h"

namespace moeserve::tokenizer {
namespace {

// Normalizes a window that contains no opaque character.
void AppendUtf8procNfc(std::string_view text, std::string* out) {
  if (text.empty()) return;
  utf8proc_uint8_t* mapped = nullptr;
  utf8proc_ssize_t len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (len < 0) {
    out->append(text);  // Cannot happen for well-formed input; keep the text rather than drop it.
  } else {
    out->append(reinterpret_cast<const char*>(mapped), static_cast<size_t>(len));
  }
  std::free(mapped);
}

// Normalizes a window, cutting it at characters the reference NFC does not know.
void AppendWindow(std::string_view window, std::string* out) {
  size_t start = 0, i = 0;
  while (i < window.size()) {
    Utf8Step step = DecodeUtf8(window.substr(i));
    if (CharFlags(step.cp) & kNfcOpaque) {
      AppendUtf8procNfc(window.substr(start, i - start), out);
      out->append(window.substr(i, step.length));
      start = i + step.length;
    }
    i += step.length;
  }
  AppendUtf8procNfc(window.substr(start), out);
}

}  // namespace

bool IsTriviallyNfc(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    if (static_cast<uint8_t>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    Utf8Step step = DecodeUtf8(text.substr(i));
    if (CharFlags(step.cp) & kNfcUnsafe) return false;
    i += step.length;
  }
  return true;
}

void AppendNfc(std::string_view text, std::string* out) {
  size_t copied = 0;     // text[0, copied) is already in `out`.
  size_t last_safe = 0;  // Start of the last safe character seen.
  size_t i = 0;
  while (i < text.size()) {
    if (static_cast<uint8_t>(text[i]) < 0x80) {
      last_safe = i++;
      continue;
    }
    Utf8Step step = DecodeUtf8(text.substr(i));
    if (!(CharFlags(step.cp) & kNfcUnsafe)) {
      last_safe = i;
      i += step.length;
      continue;
    }
    // Window: from the last safe character (a starter that may compose) to the next safe one.
    size_t begin = last_safe < i ? last_safe : i;
    if (begin < copied) begin = copied;
    size_t end = i + step.length;
    while (end < text.size()) {
      Utf8Step next = DecodeUtf8(text.substr(end));
      if (!(CharFlags(next.cp) & kNfcUnsafe)) break;
      end += next.length;
    }
    out->append(text.substr(copied, begin - copied));
    AppendWindow(text.substr(begin, end - begin), out);
    copied = end;
    i = end;
    last_safe = end;  // The next safe character starts here (or the text ends).
  }
  out->append(text.substr(copied));
}

}  // namespace moeserve::tokenizer
