// Python-compatible text helpers over UTF-8 strings.
//
// Jinja2 runs on Python `str`, which is a sequence of code points. These helpers give the engine
// the same view: code point decoding, Python's notion of whitespace (str.isspace), case mapping
// (through utf8proc's simple mappings; Python's few multi-character special cases such as 'ß'
// upper-casing to 'SS' are not reproduced), and the float formatting of Python's repr().
// Stateless; thread-safe.
#ifndef MOESERVE_ROUTER_TEMPLATE_TEXT_H_
#define MOESERVE_ROUTER_TEMPLATE_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace moeserve::jinja {

// Decodes UTF-8 into code points; invalid bytes decode as U+FFFD one byte at a time.
std::vector<char32_t> DecodeUtf8(absl::string_view s);
// Appends the UTF-8 encoding of `cp` to `out`.
void AppendUtf8(char32_t cp, std::string* out);
std::string EncodeUtf8(const std::vector<char32_t>& cps);
// Number of code points (Python len()).
int64_t CodePointCount(absl::string_view s);

// Python str.isspace() for a single code point.
bool IsPyWhitespace(char32_t cp);

// Python str.strip/lstrip/rstrip: without `chars` strips whitespace, else any code point in chars.
std::string PyStrip(absl::string_view s, const std::string* chars, bool left, bool right);

std::string PyUpper(absl::string_view s);
std::string PyLower(absl::string_view s);
// Python str.capitalize(): first code point title-cased, the rest lower-cased.
std::string PyCapitalize(absl::string_view s);
// Python str.title().
std::string PyTitle(absl::string_view s);

// Python repr(float): shortest round-trip digits, '1.0', '1e+16', 'inf', 'nan'.
std::string FormatPyFloat(double d);

}  // namespace moeserve::jinja

#endif  // MOESERVE_ROUTER_TEMPLATE_TEXT_H_
