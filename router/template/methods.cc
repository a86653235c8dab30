// Methods of str, dict and list that templates call (see builtins.h): Python's semantics on
// code points, with the sandbox's refusal of mutating methods handled by attribute lookup.
#include <utf8proc.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "router/template/builtins.h"
#include "router/template/builtins_internal.h"
#include "router/template/text.h"

namespace moeserve::jinja {

using internal::Bind;
using internal::IsNone;
using internal::ToIndex;
using internal::ToStr;
using internal::ToStringArg;
using internal::TypeError;

// ---- Methods of str, dict, list ----------------------------------------------------------------

namespace {

// Byte offset of code point `cp_index` in `s` (clamped to the end).
size_t ByteOffset(const std::string& s, int64_t cp_index) {
  size_t i = 0;
  for (int64_t n = 0; i < s.size() && n < cp_index; ++n) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

int64_t CpIndex(const std::string& s, size_t byte_offset) {
  return CodePointCount(absl::string_view(s).substr(0, byte_offset));
}

std::vector<std::string> SplitWhitespace(const std::string& s, int64_t maxsplit, bool from_right) {
  std::vector<char32_t> cps = DecodeUtf8(s);
  std::vector<std::string> out;
  auto piece = [&](size_t b, size_t e) {
    return EncodeUtf8(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(b),
                                            cps.begin() + static_cast<ptrdiff_t>(e)));
  };
  int64_t count = 0;
  if (!from_right) {
    size_t i = 0, n = cps.size();
    while (i < n) {
      while (i < n && IsPyWhitespace(cps[i])) ++i;
      if (i == n) break;
      if (maxsplit >= 0 && count == maxsplit) {
        out.push_back(piece(i, n));
        break;
      }
      size_t j = i;
      while (j < n && !IsPyWhitespace(cps[j])) ++j;
      out.push_back(piece(i, j));
      ++count;
      i = j;
    }
    return out;
  }
  size_t i = cps.size();
  while (i > 0) {
    while (i > 0 && IsPyWhitespace(cps[i - 1])) --i;
    if (i == 0) break;
    if (maxsplit >= 0 && count == maxsplit) {
      out.push_back(piece(0, i));
      break;
    }
    size_t j = i;
    while (j > 0 && !IsPyWhitespace(cps[j - 1])) --j;
    out.push_back(piece(j, i));
    ++count;
    i = j;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> SplitSep(const std::string& s, const std::string& sep, int64_t maxsplit,
                                  bool from_right) {
  std::vector<std::string> out;
  int64_t count = 0;
  if (!from_right) {
    size_t start = 0;
    while (maxsplit < 0 || count < maxsplit) {
      size_t p = s.find(sep, start);
      if (p == std::string::npos) break;
      out.push_back(s.substr(start, p - start));
      start = p + sep.size();
      ++count;
    }
    out.push_back(s.substr(start));
    return out;
  }
  size_t end = s.size();
  while (maxsplit < 0 || count < maxsplit) {
    if (end < sep.size()) break;
    size_t p = s.rfind(sep, end - sep.size());
    if (p == std::string::npos) break;
    out.push_back(s.substr(p + sep.size(), end - p - sep.size()));
    end = p;
    ++count;
  }
  out.push_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

bool IsLineBreak(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
         c == 0x85 || c == 0x2028 || c == 0x2029;
}

// Python str.splitlines().
std::vector<std::string> SplitLines(const std::string& s, bool keepends) {
  std::vector<char32_t> cps = DecodeUtf8(s);
  std::vector<std::string> out;
  size_t i = 0, n = cps.size();
  while (i < n) {
    size_t j = i;
    while (j < n && !IsLineBreak(cps[j])) ++j;
    size_t eol = j;
    if (j < n) {
      eol = (cps[j] == '\r' && j + 1 < n && cps[j + 1] == '\n') ? j + 2 : j + 1;
    }
    std::vector<char32_t> line(cps.begin() + static_cast<ptrdiff_t>(i),
                               cps.begin() + static_cast<ptrdiff_t>(keepends ? eol : j));
    out.push_back(EncodeUtf8(line));
    i = eol;
  }
  return out;
}

ValueList StringsToValues(std::vector<std::string> parts) {
  ValueList out;
  out.reserve(parts.size());
  for (std::string& p : parts) out.emplace_back(std::move(p));
  return out;
}

// Python str.replace.
absl::StatusOr<std::string> PyReplace(Interpreter& interp, const std::string& s,
                                      const std::string& old, const std::string& repl,
                                      int64_t count) {
  std::string out;
  if (old.empty()) {
    std::vector<char32_t> cps = DecodeUtf8(s);
    int64_t done = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      if (i < cps.size()) AppendUtf8(cps[i], &out);
      RETURN_IF_ERROR(interp.CheckSize(out.size()));
    }
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t p = s.find(old, start);
    if (p == std::string::npos) break;
    out.append(s, start, p - start);
    out += repl;
    RETURN_IF_ERROR(interp.CheckSize(out.size()));
    start = p + old.size();
    ++done;
  }
  out.append(s, start, std::string::npos);
  RETURN_IF_ERROR(interp.CheckSize(out.size()));
  return out;
}

// Python str.format for `{}`, `{0}`, `{name}`, `{!r}`, `{!s}` and doubled braces.
absl::StatusOr<std::string> PyFormat(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  enum { kUnknown, kAuto, kManual } numbering = kUnknown;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      return absl::InvalidArgumentError("Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    size_t close = fmt.find('}', i);
    if (close == std::string::npos) {
      return absl::InvalidArgumentError("Single '{' encountered in format string");
    }
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close;
    char conversion = 's';
    if (size_t bang = field.find('!'); bang != std::string::npos) {
      if (bang + 2 != field.size() || (field[bang + 1] != 'r' && field[bang + 1] != 's')) {
        return absl::UnimplementedError("only !r and !s conversions are supported in format()");
      }
      conversion = field[bang + 1];
      field.resize(bang);
    }
    if (field.find_first_of(":.[") != std::string::npos) {
      return absl::UnimplementedError(
          "format specs and attribute access in str.format() are not supported");
    }
    const Value* arg = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), ::isdigit)) {
      auto mode = field.empty() ? kAuto : kManual;
      if (numbering != kUnknown && numbering != mode) {
        return absl::InvalidArgumentError(
            "cannot switch between automatic and manual field numbering");
      }
      numbering = mode;
      size_t index = field.empty() ? auto_index++ : std::strtoul(field.c_str(), nullptr, 10);
      if (index >= args.positional.size()) {
        return absl::OutOfRangeError(
            absl::StrCat("Replacement index ", index, " out of range for positional args tuple"));
      }
      arg = &args.positional[index];
    } else {
      for (const auto& [k, v] : args.keyword) {
        if (k == field) arg = &v;
      }
      if (arg == nullptr) return absl::NotFoundError(absl::StrCat("'", field, "'"));
    }
    if (conversion == 'r') {
      out += Repr(*arg);
    } else {
      ASSIGN_OR_RETURN(std::string s, ToStr(*arg));
      out += s;
    }
  }
  return out;
}

bool AllCodePoints(const std::string& s, bool (*pred)(char32_t)) {
  if (s.empty()) return false;
  for (char32_t c : DecodeUtf8(s)) {
    if (!pred(c)) return false;
  }
  return true;
}

bool IsAlphaCp(char32_t c) {
  utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
         cat == UTF8PROC_CATEGORY_LT || cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_LO;
}
bool IsDigitCp(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ND;
}
bool IsNumericCp(char32_t c) {
  utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}
bool IsAlnumCp(char32_t c) { return IsAlphaCp(c) || IsNumericCp(c); }

// Python str.islower / str.isupper: some cased character, and every cased one in that case.
bool HasCase(const std::string& s, bool lower) {
  bool cased = false;
  for (char32_t c : DecodeUtf8(s)) {
    std::string one;
    AppendUtf8(c, &one);
    bool is_lower = PyUpper(one) != one;
    bool is_upper = PyLower(one) != one;
    if (lower ? is_upper : is_lower) return false;
    if (lower ? is_lower : is_upper) cased = true;
  }
  return cased;
}

absl::StatusOr<bool> AffixMatch(const std::string& s, const Value& affix, bool prefix,
                                absl::string_view fn) {
  auto one = [&](const std::string& a) {
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0
                  : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_string()) return one(affix.as_string());
  if (affix.is_tuple()) {
    for (const Value& a : affix.items()) {
      if (!a.is_string()) {
        return TypeError(
            absl::StrCat("tuple for ", fn, " must only contain str, not ", a.TypeName()));
      }
      if (one(a.as_string())) return true;
    }
    return false;
  }
  return TypeError(
      absl::StrCat(fn, " first arg must be str or a tuple of str, not ", affix.TypeName()));
}

absl::StatusOr<Value> StringMethod(Interpreter& interp, const std::string& s,
                                   const std::string& name, CallArgs args) {
  if (name == "startswith" || name == "endswith") {
    ASSIGN_OR_RETURN(auto a, Bind(name, std::move(args), {"prefix"}));
    if (!a[0]) return TypeError(absl::StrCat(name, "() takes at least 1 argument (0 given)"));
    ASSIGN_OR_RETURN(bool r, AffixMatch(s, *a[0], name == "startswith", name));
    return Value(r);
  }
  if (name == "split" || name == "rsplit") {
    ASSIGN_OR_RETURN(auto a, Bind(name, std::move(args), {"sep", "maxsplit"}));
    int64_t maxsplit = -1;
    if (a[1]) {
      ASSIGN_OR_RETURN(maxsplit, ToIndex(*a[1], "maxsplit"));
    }
    if (IsNone(a[0]))
      return Value::List(StringsToValues(SplitWhitespace(s, maxsplit, name == "rsplit")));
    ASSIGN_OR_RETURN(std::string sep, ToStringArg(*a[0], "sep"));
    if (sep.empty()) return absl::InvalidArgumentError("empty separator");
    return Value::List(StringsToValues(SplitSep(s, sep, maxsplit, name == "rsplit")));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    ASSIGN_OR_RETURN(auto a, Bind(name, std::move(args), {"chars"}));
    std::string chars;
    if (!IsNone(a[0])) {
      ASSIGN_OR_RETURN(chars, ToStringArg(*a[0], "chars"));
    }
    return Value(PyStrip(s, IsNone(a[0]) ? nullptr : &chars, name != "rstrip", name != "lstrip"));
  }
  if (name == "replace") {
    ASSIGN_OR_RETURN(auto a, Bind(name, std::move(args), {"old", "new", "count"}));
    if (!a[0] || !a[1]) return TypeError("replace() takes at least 2 arguments");
    ASSIGN_OR_RETURN(std::string old, ToStringArg(*a[0], "replace() argument 1"));
    ASSIGN_OR_RETURN(std::string repl, ToStringArg(*a[1], "replace() argument 2"));
    int64_t count = -1;
    if (a[2]) {
      ASSIGN_OR_RETURN(count, ToIndex(*a[2], "count"));
    }
    ASSIGN_OR_RETURN(std::string r, PyReplace(interp, s, old, repl, count));
    return Value(std::move(r));
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" ||
      name == "swapcase" || name == "isdigit" || name == "isalpha" || name == "isalnum" ||
      name == "isspace" || name == "isupper" || name == "islower") {
    RETURN_IF_ERROR(Bind(name, std::move(args), {}).status());
    if (name == "upper") return Value(PyUpper(s));
    if (name == "lower") return Value(PyLower(s));
    if (name == "title") return Value(PyTitle(s));
    if (name == "capitalize") return Value(PyCapitalize(s));
    if (name == "isdigit") return Value(AllCodePoints(s, IsDigitCp));
    if (name == "isalpha") return Value(AllCodePoints(s, IsAlphaCp));
    if (name == "isalnum") return Value(AllCodePoints(s, IsAlnumCp));
    if (name == "isspace") return Value(AllCodePoints(s, IsPyWhitespace));
    if (name == "isupper") return Value(HasCase(s, false));
    if (name == "islower") return Value(HasCase(s, true));
    std::string out;
    for (char32_t c : DecodeUtf8(s)) {
      std::string one;
      AppendUtf8(c, &one);
      std::string up = PyUpper(one);
      out += up != one ? up : PyLower(one);
    }
    return Value(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    ASSIGN_OR_RETURN(auto a, Bind(name, std::move(args), {"sub", "start", "end"}));
    if (!a[0]) return TypeError(absl::StrCat(name, "() takes at least 1 argument (0 given)"));
    ASSIGN_OR_RETURN(std::string sub, ToStringArg(*a[0], "must be"));
    int64_t n = CodePointCount(s);
    auto clamp = [&](const std::optional<Value>& v, int64_t dflt) -> absl::StatusOr<int64_t> {
      if (IsNone(v)) return dflt;
      ASSIGN_OR_RETURN(int64_t x, ToIndex(*v, "slice index"));
      if (x < 0) x = std::max<int64_t>(0, x + n);
      return std::min(x, n);
    };
    ASSIGN_OR_RETURN(int64_t start, clamp(a[1], 0));
    ASSIGN_OR_RETURN(int64_t end, clamp(a[2], n));
    if (name == "count") {
      if (start > end) return Value(int64_t{0});
      std::string window =
          s.substr(ByteOffset(s, start), ByteOffset(s, end) - ByteOffset(s, start));
      if (sub.empty()) return Value(end - start + 1);
      int64_t c = 0;
      for (size_t p = window.find(sub); p != std::string::npos;
           p = window.find(sub, p + sub.size())) {
        ++c;
      }
      return Value(c);
    }
    int64_t found = -1;
    if (start <= end) {
      size_t b = ByteOffset(s, start), e = ByteOffset(s, end);
      std::string window = s.substr(b, e - b);
      size_t p = (name == "find" || name == "index") ? window.find(sub) : window.rfind(sub);
      if (p != std::string::npos) found = start + CpIndex(window, p);
    }
    if (found < 0 && (name == "index" || name == "rindex")) {
      return absl::NotFoundError("substring not found");
    }
    return Value(found);
  }
  if (name == "format") {
    ASSIGN_OR_RETURN(std::string r, PyFormat(s, args));
    RETURN_IF_ERROR(interp.CheckSize(r.size()));
    return Value(std::move(r));
  }
  if (name == "join") {
    ASSIGN_OR_RETURN(auto a, Bind(name, std::move(args), {"iterable"}));
    if (!a[0]) return TypeError("join() takes exactly one argument (0 given)");
    ASSIGN_OR_RETURN(ValueList items, Iterate(*a[0]));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) {
        return TypeError(absl::StrCat("sequence item ", i, ": expected str instance, ",
                                      items[i].TypeName(), " found"));
      }
      if (i) out += s;
      out += items[i].as_string();
      RETURN_IF_ERROR(interp.CheckSize(out.size()));
    }
    return Value(std::move(out));
  }
  if (name == "splitlines") {
    ASSIGN_OR_RETURN(auto a, Bind(name, std::move(args), {"keepends"}));
    return Value::List(StringsToValues(SplitLines(s, a[0] && a[0]->Truthy())));
  }
  if (name == "zfill") {
    ASSIGN_OR_RETURN(auto a, Bind(name, std::move(args), {"width"}));
    if (!a[0]) return TypeError("zfill() takes exactly one argument (0 given)");
    ASSIGN_OR_RETURN(int64_t width, ToIndex(*a[0], "width"));
    int64_t n = CodePointCount(s);
    if (width <= n) return Value(s);
    RETURN_IF_ERROR(interp.CheckSize(static_cast<size_t>(width)));
    std::string pad(static_cast<size_t>(width - n), '0');
    if (!s.empty() && (s[0] == '-' || s[0] == '+'))
      return Value(s.substr(0, 1) + pad + s.substr(1));
    return Value(pad + s);
  }
  return absl::UnimplementedError(absl::StrCat("str.", name, "() is not supported"));
}

}  // namespace

absl::StatusOr<Value> internal::CallMethod(Interpreter& interp, const Value& self,
                                           const std::string& name, CallArgs args) {
  if (self.is_string()) return StringMethod(interp, self.as_string(), name, std::move(args));
  if (self.is_dict()) {
    const Dict& d = self.dict();
    if (name == "get") {
      ASSIGN_OR_RETURN(auto a, Bind(name, std::move(args), {"key", "default"}));
      if (!a[0]) return TypeError("get expected at least 1 argument, got 0");
      if (const Value* v = d.Find(*a[0])) return *v;
      return a[1] ? *a[1] : Value::None();
    }
    RETURN_IF_ERROR(Bind(name, std::move(args), {}).status());
    if (name == "copy") return self;
    ValueList out;
    for (const auto& [k, v] : d.entries) {
      if (name == "items") {
        out.push_back(Value::Tuple({k, v}));
      } else {
        out.push_back(name == "keys" ? k : v);
      }
    }
    return Value::DictView(absl::StrCat("dict_", name), std::move(out));
  }
  if (self.is_sequence()) {
    if (name == "copy") return self;
    ASSIGN_OR_RETURN(auto a, Bind(name, std::move(args), {"value"}));
    if (!a[0]) return TypeError(absl::StrCat(name, "() takes exactly one argument (0 given)"));
    int64_t count = 0, index = -1;
    for (size_t i = 0; i < self.items().size(); ++i) {
      if (Equals(self.items()[i], *a[0])) {
        ++count;
        if (index < 0) index = static_cast<int64_t>(i);
      }
    }
    if (name == "count") return Value(count);
    if (index < 0) return absl::NotFoundError(absl::StrCat(Repr(*a[0]), " is not in list"));
    return Value(index);
  }
  return absl::UnimplementedError(absl::StrCat(self.TypeName(), ".", name, "() is not supported"));
}

}  // namespace moeserve::jinja
