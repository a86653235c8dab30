// Lexer (see lexer.h). Each rule names the jinja2/lexer.py regex it reproduces.
#include "router/template/lexer.h"

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "router/template/text.h"

namespace moeserve::jinja {
namespace {

std::string NormalizeNewlines(absl::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  // keep_trailing_newline=False drops exactly one trailing newline.
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Length in bytes of the Python-whitespace run (regex \s*) starting at `pos`.
size_t WhitespaceRun(const std::string& s, size_t pos) {
  size_t i = pos;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (!IsPyWhitespace(c)) break;
      ++i;
      continue;
    }
    size_t len = (c >= 0xF0) ? 4 : (c >= 0xE0) ? 3 : 2;
    std::vector<char32_t> cp = DecodeUtf8(absl::string_view(s).substr(i, len));
    if (cp.size() != 1 || !IsPyWhitespace(cp[0])) break;
    i += len;
  }
  return i - pos;
}

bool AllWhitespace(absl::string_view s) {
  if (s.empty()) return false;
  for (char32_t cp : DecodeUtf8(s)) {
    if (!IsPyWhitespace(cp)) return false;
  }
  return true;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Lexer {
 public:
  Lexer(std::string source, const LexerOptions& options) : src_(std::move(source)), opt_(options) {}

  absl::StatusOr<std::vector<Token>> Run() {
    while (pos_ < src_.size()) {
      size_t tag = FindTagStart(pos_);
      if (tag == std::string::npos) {
        Emit(Token::Type::kData, src_.substr(pos_), pos_);
        Advance(src_.size());
        break;
      }
      char kind = src_[tag + 1];
      size_t after = tag + 2;
      char sign =
          (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) ? src_[after] : 0;
      size_t raw_end = kind == '%' ? MatchRawBegin(tag) : std::string::npos;
      std::string text = src_.substr(pos_, tag - pos_);
      if (sign == '-') {
        text = PyStrip(text, nullptr, false, true);
      } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if ((l_pos > 0 || line_starting_) && AllWhitespace(absl::string_view(text).substr(l_pos))) {
          text.resize(l_pos);
        }
      }
      if (!text.empty()) Emit(Token::Type::kData, text, pos_);
      Advance(tag);
      if (raw_end != std::string::npos) {
        Advance(raw_end);
        RETURN_IF_ERROR(LexRaw());
        continue;
      }
      if (kind == '#') {
        RETURN_IF_ERROR(LexComment(sign ? after + 1 : after));
        continue;
      }
      Emit(kind == '%' ? Token::Type::kBlockBegin : Token::Type::kVariableBegin, "", tag);
      Advance(sign ? after + 1 : after);
      RETURN_IF_ERROR(LexTag(kind == '%'));
    }
    Emit(Token::Type::kEof, "", src_.size());
    return std::move(tokens_);
  }

 private:
  size_t FindTagStart(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string::npos;
  }

  // `{%(-|+|)\s*raw\s*(?:-%}\s*|%})`: returns the end of the match or npos.
  size_t MatchRawBegin(size_t tag) const {
    size_t i = tag + 2;
    if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) ++i;
    i += WhitespaceRun(src_, i);
    if (src_.compare(i, 3, "raw") != 0) return std::string::npos;
    i += 3;
    if (i < src_.size() && IsNameChar(src_[i])) return std::string::npos;
    i += WhitespaceRun(src_, i);
    if (src_.compare(i, 3, "-%}") == 0) return i + 3 + WhitespaceRun(src_, i + 3);
    if (src_.compare(i, 2, "%}") == 0) return i + 2;
    return std::string::npos;
  }

  absl::Status LexRaw() {
    // `(.*?)((?:{%(-|+|))\s*endraw\s*(?:+%}|-%}\s*|%}\n?))`
    for (size_t p = src_.find("{%", pos_); p != std::string::npos; p = src_.find("{%", p + 1)) {
      size_t i = p + 2;
      char sign = 0;
      if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) sign = src_[i++];
      i += WhitespaceRun(src_, i);
      if (src_.compare(i, 6, "endraw") != 0) continue;
      i += 6;
      i += WhitespaceRun(src_, i);
      size_t end;
      if (src_.compare(i, 3, "+%}") == 0) {
        end = i + 3;
      } else if (src_.compare(i, 3, "-%}") == 0) {
        end = i + 3 + WhitespaceRun(src_, i + 3);
      } else if (src_.compare(i, 2, "%}") == 0) {
        end = i + 2;
        if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
      } else {
        continue;
      }
      std::string text = src_.substr(pos_, p - pos_);
      if (sign == '-') {
        text = PyStrip(text, nullptr, false, true);
      } else if (sign != '+' && opt_.lstrip_blocks) {
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if ((l_pos > 0 || line_starting_) && AllWhitespace(absl::string_view(text).substr(l_pos))) {
          text.resize(l_pos);
        }
      }
      if (!text.empty()) Emit(Token::Type::kData, text, pos_);
      Advance(end);
      line_starting_ = src_[end - 1] == '\n';
      return absl::OkStatus();
    }
    return Error("Missing end of raw directive");
  }

  absl::Status LexComment(size_t body) {
    // `(.*?)((?:+#}|-#}\s*|#}\n?))`
    for (size_t p = body; p < src_.size(); ++p) {
      size_t end = std::string::npos;
      if (src_.compare(p, 3, "+#}") == 0) {
        end = p + 3;
      } else if (src_.compare(p, 3, "-#}") == 0) {
        end = p + 3 + WhitespaceRun(src_, p + 3);
      } else if (src_.compare(p, 2, "#}") == 0) {
        end = p + 2;
        if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
      }
      if (end != std::string::npos) {
        Advance(end);
        line_starting_ = src_[end - 1] == '\n';
        return absl::OkStatus();
      }
    }
    return Error("Missing end of comment tag");
  }

  // Tokens inside `{% %}` or `{{ }}` up to and including the end tag.
  absl::Status LexTag(bool block) {
    std::vector<char> balance;
    while (pos_ < src_.size()) {
      if (balance.empty()) {
        size_t end = MatchTagEnd(block);
        if (end != std::string::npos) {
          Emit(block ? Token::Type::kBlockEnd : Token::Type::kVariableEnd, "", pos_);
          Advance(end);
          line_starting_ = src_[end - 1] == '\n';
          return absl::OkStatus();
        }
      }
      size_t ws = WhitespaceRun(src_, pos_);
      if (ws > 0) {
        Advance(pos_ + ws);
        continue;
      }
      char c = src_[pos_];
      if (IsDigit(c)) {
        RETURN_IF_ERROR(LexNumber());
        continue;
      }
      if (IsNameStart(c)) {
        size_t e = pos_;
        while (e < src_.size() && IsNameChar(src_[e])) ++e;
        Emit(Token::Type::kName, src_.substr(pos_, e - pos_), pos_);
        Advance(e);
        continue;
      }
      if (c == '\'' || c == '"') {
        RETURN_IF_ERROR(LexString());
        continue;
      }
      static const char* const kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/",
                                         "*",  "%",  "~",  "[",  "]",  "(",  ")", "{", "}",
                                         ">",  "<",  "=",  ".",  ":",  "|",  ",", ";"};
      bool matched = false;
      for (const char* op : kOps) {
        size_t n = std::char_traits<char>::length(op);
        if (src_.compare(pos_, n, op) != 0) continue;
        std::string o(op);
        if (o == "{" || o == "(" || o == "[") {
          balance.push_back(o == "{" ? '}' : o == "(" ? ')' : ']');
        } else if (o == "}" || o == ")" || o == "]") {
          if (balance.empty()) return Error(absl::StrCat("unexpected '", o, "'"));
          if (balance.back() != o[0]) {
            return Error(absl::StrCat("unexpected '", o, "', expected '",
                                      std::string(1, balance.back()), "'"));
          }
          balance.pop_back();
        }
        Emit(Token::Type::kOperator, o, pos_);
        Advance(pos_ + n);
        matched = true;
        break;
      }
      if (!matched) {
        return Error(absl::StrCat("unexpected char '", src_.substr(pos_, 1), "' at ", pos_));
      }
    }
    return absl::OkStatus();  // The parser reports the missing end tag.
  }

  size_t MatchTagEnd(bool block) const {
    if (block) {
      if (src_.compare(pos_, 3, "+%}") == 0) return pos_ + 3;
      if (src_.compare(pos_, 3, "-%}") == 0) return pos_ + 3 + WhitespaceRun(src_, pos_ + 3);
      if (src_.compare(pos_, 2, "%}") == 0) {
        size_t end = pos_ + 2;
        if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
        return end;
      }
      return std::string::npos;
    }
    if (src_.compare(pos_, 3, "-}}") == 0) return pos_ + 3 + WhitespaceRun(src_, pos_ + 3);
    if (src_.compare(pos_, 2, "}}") == 0) return pos_ + 2;
    return std::string::npos;
  }

  // Digits with optional '_' separators: `(\d+_)*\d+`. Returns the end.
  size_t Digits(size_t i) const {
    size_t start = i;
    while (i < src_.size()) {
      if (IsDigit(src_[i])) {
        ++i;
      } else if (src_[i] == '_' && i > start && i + 1 < src_.size() && IsDigit(src_[i + 1])) {
        ++i;
      } else {
        break;
      }
    }
    return i;
  }

  absl::Status LexNumber() {
    size_t start = pos_;
    // float_re, tried first; it may not follow a '.'.
    if (start == 0 || src_[start - 1] != '.') {
      size_t i = Digits(start);
      size_t frac_end = std::string::npos;
      if (i < src_.size() && src_[i] == '.' && i + 1 < src_.size() && IsDigit(src_[i + 1])) {
        frac_end = Digits(i + 1);
      }
      size_t j = frac_end != std::string::npos ? frac_end : i;
      size_t exp_end = std::string::npos;
      if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
        size_t k = j + 1;
        if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
        if (k < src_.size() && IsDigit(src_[k])) exp_end = Digits(k);
      }
      size_t end = exp_end != std::string::npos ? exp_end : frac_end;
      if (end != std::string::npos) {
        std::string text;
        for (size_t p = start; p < end; ++p) {
          if (src_[p] != '_') text.push_back(src_[p]);
        }
        Emit(Token::Type::kFloat, text, start);
        Advance(end);
        return absl::OkStatus();
      }
    }
    // integer_re.
    size_t end = start;
    std::string text;
    if (src_[start] == '0' && start + 1 < src_.size() &&
        std::strchr("bBoOxX", src_[start + 1]) != nullptr) {
      char base = static_cast<char>(std::tolower(static_cast<unsigned char>(src_[start + 1])));
      end = start + 2;
      auto ok = [&](char c) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return base == 'b'   ? (c == '0' || c == '1')
               : base == 'o' ? (c >= '0' && c <= '7')
                             : std::isxdigit(static_cast<unsigned char>(c)) != 0;
      };
      std::string digits;
      while (end < src_.size()) {
        if (ok(src_[end])) {
          digits.push_back(src_[end]);
        } else if (!(src_[end] == '_' && end + 1 < src_.size() && ok(src_[end + 1]))) {
          break;
        }
        ++end;
      }
      if (digits.empty()) return Error("invalid integer literal");
      errno = 0;
      unsigned long long v = std::strtoull(digits.c_str(), nullptr,
                                           base == 'b'   ? 2
                                           : base == 'o' ? 8
                                                         : 16);
      if (errno != 0 || v > static_cast<unsigned long long>(INT64_MAX)) {
        return Error("integer literal out of range");
      }
      text = std::to_string(v);
    } else if (src_[start] == '0') {
      end = start + 1;
      while (end < src_.size()) {
        if (src_[end] == '0') {
          ++end;
        } else if (src_[end] == '_' && end + 1 < src_.size() && src_[end + 1] == '0') {
          end += 2;
        } else {
          break;
        }
      }
      text = "0";
    } else {
      end = Digits(start);
      for (size_t p = start; p < end; ++p) {
        if (src_[p] != '_') text.push_back(src_[p]);
      }
      if (text.size() > 18) return Error("integer literal out of range");
    }
    Emit(Token::Type::kInteger, text, start);
    Advance(end);
    return absl::OkStatus();
  }

  absl::Status LexString() {
    char quote = src_[pos_];
    size_t i = pos_ + 1;
    std::string value;
    while (i < src_.size() && src_[i] != quote) {
      char c = src_[i];
      if (c != '\\') {
        value.push_back(c);
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) break;
      char e = src_[i + 1];
      i += 2;
      switch (e) {
        case '\n':
          break;  // Line continuation.
        case '\\':
          value.push_back('\\');
          break;
        case '\'':
          value.push_back('\'');
          break;
        case '"':
          value.push_back('"');
          break;
        case 'a':
          value.push_back('\a');
          break;
        case 'b':
          value.push_back('\b');
          break;
        case 'f':
          value.push_back('\f');
          break;
        case 'n':
          value.push_back('\n');
          break;
        case 'r':
          value.push_back('\r');
          break;
        case 't':
          value.push_back('\t');
          break;
        case 'v':
          value.push_back('\v');
          break;
        case 'x':
        case 'u':
        case 'U': {
          size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (i + n > src_.size()) return Error("truncated escape in string literal");
          char32_t cp = 0;
          for (size_t k = 0; k < n; ++k) {
            char h = src_[i + k];
            if (!std::isxdigit(static_cast<unsigned char>(h))) {
              return Error("truncated escape in string literal");
            }
            cp = cp * 16 + static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                     ? h - '0'
                                                     : std::tolower(h) - 'a' + 10);
          }
          if (cp > 0x10FFFF) return Error("illegal Unicode character in string literal");
          AppendUtf8(cp, &value);
          i += n;
          break;
        }
        case 'N':
          return Error("\\N{...} escapes in string literals are not supported");
        default:
          if (e >= '0' && e <= '7') {
            char32_t cp = static_cast<char32_t>(e - '0');
            for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++k) {
              cp = cp * 8 + static_cast<char32_t>(src_[i++] - '0');
            }
            AppendUtf8(cp, &value);
          } else {
            value.push_back('\\');  // Python keeps unknown escapes.
            value.push_back(e);
          }
      }
    }
    if (i >= src_.size()) return Error("unexpected end of string literal");
    Emit(Token::Type::kString, value, pos_);
    Advance(i + 1);
    return absl::OkStatus();
  }

  void Emit(Token::Type type, std::string value, size_t at) {
    tokens_.push_back(Token{type, std::move(value), LineAt(at)});
  }

  int LineAt(size_t at) {
    // Positions only move forward; count newlines incrementally.
    while (line_pos_ < at && line_pos_ < src_.size()) {
      if (src_[line_pos_++] == '\n') ++line_;
    }
    return line_;
  }

  void Advance(size_t to) { pos_ = to; }

  absl::Status Error(absl::string_view msg) {
    return absl::InvalidArgumentError(
        absl::StrCat("template syntax error at line ", LineAt(pos_), ": ", msg));
  }

#undef RETURN_STATUS_IF

  std::string src_;
  LexerOptions opt_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
  size_t line_pos_ = 0;
  int line_ = 1;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view source, const LexerOptions& options) {
  return Lexer(NormalizeNewlines(source), options).Run();
}

}  // namespace moeserve::jinja
