// Filters, tests and global functions (see builtins.h). Each follows the jinja2/filters.py or
// jinja2/tests.py function of the same name; Hugging Face's overrides are noted where they apply.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "router/template/builtins.h"
#include "router/template/builtins_internal.h"
#include "router/template/text.h"

namespace moeserve::jinja {

using internal::Bind;
using internal::IgnoreCase;
using internal::IsNone;
using internal::ToIndex;
using internal::ToStr;
using internal::TypeError;
using internal::UndefinedError;

namespace {

using FilterFn = absl::StatusOr<Value> (*)(Interpreter&, const Value&, CallArgs);
using TestFn = absl::StatusOr<bool> (*)(Interpreter&, const Value&, CallArgs);

// ---- Shared pieces -----------------------------------------------------------------------------

// Jinja's make_attrgetter: "a.b.0" walks items (then attributes) part by part.
absl::StatusOr<Value> AttrGet(const Value& item, const Value& attribute) {
  if (!attribute.is_string()) return GetItem(item, attribute);
  Value cur = item;
  for (absl::string_view part : absl::StrSplit(attribute.as_string(), '.')) {
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    Value key =
        digits ? Value(static_cast<int64_t>(std::strtoll(std::string(part).c_str(), nullptr, 10)))
               : Value(std::string(part));
    ASSIGN_OR_RETURN(cur, GetItem(cur, key));
  }
  return cur;
}

// make_multi_attrgetter / make_attrgetter with ignore_case: the sort key of `item`.
absl::StatusOr<Value> SortKey(const Value& item, const std::optional<Value>& attribute,
                              bool case_sensitive, bool multi) {
  if (IsNone(attribute)) return IgnoreCase(item, case_sensitive);
  if (multi && attribute->is_string() && attribute->as_string().find(',') != std::string::npos) {
    ValueList keys;
    for (absl::string_view part : absl::StrSplit(attribute->as_string(), ',')) {
      ASSIGN_OR_RETURN(Value k, AttrGet(item, Value(std::string(part))));
      keys.push_back(IgnoreCase(k, case_sensitive));
    }
    return Value::List(std::move(keys));
  }
  ASSIGN_OR_RETURN(Value k, AttrGet(item, *attribute));
  return IgnoreCase(k, case_sensitive);
}

absl::StatusOr<ValueList> Items(Interpreter& interp, const Value& v) {
  ASSIGN_OR_RETURN(ValueList items, Iterate(v));
  RETURN_IF_ERROR(interp.ChargeIterations(static_cast<int64_t>(items.size())));
  return items;
}

// Python float(str): decimal literals with '_' between digits, inf/infinity/nan.
std::optional<double> ParsePyFloat(const std::string& text) {
  std::string s = PyStrip(text, nullptr, true, true);
  std::string lower = PyLower(s);
  std::string body =
      (!lower.empty() && (lower[0] == '+' || lower[0] == '-')) ? lower.substr(1) : lower;
  if (body == "inf" || body == "infinity" || body == "nan") {
    double v = body == "nan" ? std::nan("") : HUGE_VAL;
    return lower[0] == '-' ? -v : v;
  }
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') {
      if (i == 0 || i + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
        return std::nullopt;
      }
      continue;
    }
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
          c == '+' || c == '-')) {
      return std::nullopt;
    }
    clean.push_back(c);
  }
  if (clean.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return v;
}

// Python int(str, 10).
std::optional<int64_t> ParsePyInt(const std::string& text, int base) {
  std::string s = PyStrip(text, nullptr, true, true);
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() &&
        std::isalnum(static_cast<unsigned char>(s[i - 1])) &&
        std::isalnum(static_cast<unsigned char>(s[i + 1]))) {
      continue;
    }
    clean.push_back(s[i]);
  }
  if (clean.empty()) return std::nullopt;
  size_t digits_at = (clean[0] == '+' || clean[0] == '-') ? 1 : 0;
  if (digits_at >= clean.size() || !std::isalnum(static_cast<unsigned char>(clean[digits_at]))) {
    return std::nullopt;
  }
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(clean.c_str(), &end, base);
  if (errno != 0 || end != clean.c_str() + clean.size()) return std::nullopt;
  return static_cast<int64_t>(v);
}

// Python round(x, ndigits) for floats: correctly rounded, ties to even.
double PyRound(double x, int64_t ndigits) {
  if (!std::isfinite(x)) return x;
  if (ndigits > 300) return x;
  if (ndigits >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(ndigits), x);
    return std::strtod(buf, nullptr);
  }
  if (ndigits < -308) return std::copysign(0.0, x);
  double p = std::pow(10.0, static_cast<double>(-ndigits));
  double y = std::nearbyint(x / p) * p;  // The default rounding mode rounds ties to even.
  return y;
}

// ---- Filters -----------------------------------------------------------------------------------

absl::StatusOr<Value> FilterToJson(Interpreter&, const Value& v, CallArgs args) {
  // Hugging Face: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
  ASSIGN_OR_RETURN(auto a, Bind("tojson", std::move(args),
                                {"ensure_ascii", "indent", "separators", "sort_keys"}));
  JsonOptions opt;
  opt.ensure_ascii = a[0] && a[0]->Truthy();
  if (!IsNone(a[1])) {
    if (a[1]->is_string()) {
      opt.indent = a[1]->as_string();
    } else if (a[1]->is_int() || a[1]->is_bool()) {
      opt.indent =
          std::string(static_cast<size_t>(std::clamp<int64_t>(a[1]->as_int(), 0, 64)), ' ');
    } else {
      return TypeError("tojson: indent must be an int or a string");
    }
  }
  if (!IsNone(a[2])) {
    const Value& sep = *a[2];
    if (!sep.is_sequence() || sep.items().size() != 2 || !sep.items()[0].is_string() ||
        !sep.items()[1].is_string()) {
      return TypeError("tojson: separators must be a pair of strings");
    }
    opt.item_separator = sep.items()[0].as_string();
    opt.key_separator = sep.items()[1].as_string();
  }
  opt.sort_keys = a[3] && a[3]->Truthy();
  ASSIGN_OR_RETURN(std::string json, DumpJson(v, opt));
  return Value(std::move(json));
}

absl::StatusOr<Value> FilterLength(Interpreter&, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("length", std::move(args), {}).status());
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return Value(int64_t{0});
    case Value::Kind::kString:
      return Value(CodePointCount(v.as_string()));
    case Value::Kind::kList:
    case Value::Kind::kTuple:
      return Value(static_cast<int64_t>(v.items().size()));
    case Value::Kind::kDict:
      return Value(static_cast<int64_t>(v.dict().entries.size()));
    default:
      return TypeError(absl::StrCat("object of type '", v.TypeName(), "' has no len()"));
  }
}

template <std::string (*F)(absl::string_view)>
absl::StatusOr<Value> StringFilter(Interpreter&, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("filter", std::move(args), {}).status());
  ASSIGN_OR_RETURN(std::string s, ToStr(v));
  return Value(F(s));
}

std::string JinjaTitle(absl::string_view s) {
  // "".join(w[0].upper() + w[1:].lower() for w in re.split(r"([-\s\(\{\[\<]+)", s) if w)
  std::string out;
  bool word_start = true;
  for (char32_t c : DecodeUtf8(s)) {
    std::string one;
    AppendUtf8(c, &one);
    bool sep = IsPyWhitespace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      out += one;
      word_start = true;
    } else {
      out += word_start ? PyUpper(one) : PyLower(one);
      word_start = false;
    }
  }
  return out;
}

absl::StatusOr<Value> FilterTrim(Interpreter&, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("trim", std::move(args), {"chars"}));
  ASSIGN_OR_RETURN(std::string s, ToStr(v));
  if (IsNone(a[0])) return Value(PyStrip(s, nullptr, true, true));
  ASSIGN_OR_RETURN(std::string chars, ToStr(*a[0]));
  return Value(PyStrip(s, &chars, true, true));
}

absl::StatusOr<Value> FilterJoin(Interpreter& interp, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("join", std::move(args), {"d", "attribute"}));
  std::string sep;
  if (a[0]) {
    ASSIGN_OR_RETURN(sep, ToStr(*a[0]));
  }
  ASSIGN_OR_RETURN(ValueList items, Items(interp, v));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    Value item = items[i];
    if (!IsNone(a[1])) {
      ASSIGN_OR_RETURN(item, AttrGet(item, *a[1]));
    }
    ASSIGN_OR_RETURN(std::string s, ToStr(item));
    if (i) out += sep;
    out += s;
    RETURN_IF_ERROR(interp.CheckSize(out.size()));
  }
  return Value(std::move(out));
}

absl::StatusOr<Value> FilterDefault(Interpreter&, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("default", std::move(args), {"default_value", "boolean"}));
  bool boolean = a[1] && a[1]->Truthy();
  if (v.is_undefined() || (boolean && !v.Truthy())) return a[0] ? *a[0] : Value("");
  return v;
}

absl::StatusOr<Value> FilterItems(Interpreter& interp, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("items", std::move(args), {}).status());
  if (v.is_undefined()) return Value::Iterator({});
  if (!v.is_dict()) return TypeError("Can only get item pairs from a mapping.");
  RETURN_IF_ERROR(interp.ChargeIterations(static_cast<int64_t>(v.dict().entries.size())));
  ValueList out;
  for (const auto& [k, e] : v.dict().entries) out.push_back(Value::Tuple({k, e}));
  return Value::Iterator(std::move(out));
}

absl::StatusOr<Value> FilterMap(Interpreter& interp, const Value& v, CallArgs args) {
  ValueList out;
  if (!v.Truthy()) return Value::Iterator({});
  ASSIGN_OR_RETURN(ValueList items, Items(interp, v));
  if (args.positional.empty()) {
    std::optional<Value> attribute, def;
    for (auto& [k, val] : args.keyword) {
      if (k == "attribute") {
        attribute = val;
      } else if (k == "default") {
        def = val;
      } else {
        return TypeError(absl::StrCat("Unexpected keyword argument '", k, "'"));
      }
    }
    if (!attribute) return TypeError("map requires a filter argument");
    for (const Value& item : items) {
      ASSIGN_OR_RETURN(Value r, AttrGet(item, *attribute));
      if (r.is_undefined() && def) r = *def;
      out.push_back(std::move(r));
    }
    return Value::Iterator(std::move(out));
  }
  if (!args.positional[0].is_string()) return TypeError("map: the filter name must be a string");
  std::string name = args.positional[0].as_string();
  if (!IsKnownFilter(name)) return TypeError(absl::StrCat("No filter named '", name, "'."));
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : items) {
    ASSIGN_OR_RETURN(Value r, ApplyFilter(interp, name, item, rest));
    out.push_back(std::move(r));
  }
  return Value::Iterator(std::move(out));
}

// select / reject / selectattr / rejectattr.
absl::StatusOr<Value> SelectOrReject(Interpreter& interp, const Value& v, CallArgs args,
                                     bool lookup_attr, bool select) {
  if (!v.Truthy()) return Value::Iterator({});
  std::optional<Value> attr;
  size_t off = 0;
  if (lookup_attr) {
    if (args.positional.empty()) return TypeError("Missing parameter for attribute name");
    attr = args.positional[0];
    off = 1;
  }
  std::optional<std::string> test;
  CallArgs test_args;
  if (args.positional.size() > off) {
    if (!args.positional[off].is_string()) return TypeError("the test name must be a string");
    test = args.positional[off].as_string();
    if (!IsKnownTest(*test)) return TypeError(absl::StrCat("No test named '", *test, "'."));
    test_args.positional.assign(args.positional.begin() + static_cast<ptrdiff_t>(off) + 1,
                                args.positional.end());
    test_args.keyword = args.keyword;
  }
  ASSIGN_OR_RETURN(ValueList items, Items(interp, v));
  ValueList out;
  for (const Value& item : items) {
    Value probe = item;
    if (attr) {
      ASSIGN_OR_RETURN(probe, AttrGet(item, *attr));
    }
    bool pass;
    if (test) {
      ASSIGN_OR_RETURN(pass, ApplyTest(interp, *test, probe, test_args));
    } else {
      pass = probe.Truthy();
    }
    if (pass == select) out.push_back(item);
  }
  return Value::Iterator(std::move(out));
}

absl::StatusOr<Value> FilterSelect(Interpreter& i, const Value& v, CallArgs a) {
  return SelectOrReject(i, v, std::move(a), false, true);
}
absl::StatusOr<Value> FilterReject(Interpreter& i, const Value& v, CallArgs a) {
  return SelectOrReject(i, v, std::move(a), false, false);
}
absl::StatusOr<Value> FilterSelectAttr(Interpreter& i, const Value& v, CallArgs a) {
  return SelectOrReject(i, v, std::move(a), true, true);
}
absl::StatusOr<Value> FilterRejectAttr(Interpreter& i, const Value& v, CallArgs a) {
  return SelectOrReject(i, v, std::move(a), true, false);
}

absl::StatusOr<Value> FilterFirst(Interpreter&, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("first", std::move(args), {}).status());
  ASSIGN_OR_RETURN(ValueList items, Iterate(v));
  if (items.empty()) return Value::Undefined("No first item, sequence was empty.");
  return items.front();
}

absl::StatusOr<Value> FilterLast(Interpreter&, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("last", std::move(args), {}).status());
  if (!v.is_sequence() && !v.is_string() && !v.is_dict()) {
    return TypeError(absl::StrCat("'", v.TypeName(), "' object is not reversible"));
  }
  ASSIGN_OR_RETURN(ValueList items, Iterate(v));
  if (items.empty()) return Value::Undefined("No last item, sequence was empty.");
  return items.back();
}

absl::StatusOr<Value> FilterList(Interpreter& interp, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("list", std::move(args), {}).status());
  ASSIGN_OR_RETURN(ValueList items, Items(interp, v));
  return Value::List(std::move(items));
}

absl::StatusOr<Value> FilterString(Interpreter&, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("string", std::move(args), {}).status());
  ASSIGN_OR_RETURN(std::string s, ToStr(v));
  return Value(std::move(s));
}

absl::StatusOr<Value> FilterInt(Interpreter&, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("int", std::move(args), {"default", "base"}));
  Value def = a[0] ? *a[0] : Value(int64_t{0});
  int64_t base = 10;
  if (a[1]) {
    ASSIGN_OR_RETURN(base, ToIndex(*a[1], "base"));
  }
  auto from_float = [&](double d) -> absl::StatusOr<Value> {
    if (std::isnan(d)) return def;
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) {
      return absl::OutOfRangeError("cannot convert float to a 64-bit integer");
    }
    return Value(static_cast<int64_t>(std::trunc(d)));
  };
  if (v.is_string()) {
    if (base >= 2 && base <= 36) {
      if (std::optional<int64_t> i = ParsePyInt(v.as_string(), static_cast<int>(base))) {
        return Value(*i);
      }
    }
    if (std::optional<double> d = ParsePyFloat(v.as_string())) return from_float(*d);
    return def;
  }
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) return from_float(v.as_float());
  return def;
}

absl::StatusOr<Value> FilterFloat(Interpreter&, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("float", std::move(args), {"default"}));
  Value def = a[0] ? *a[0] : Value(0.0);
  if (v.is_number()) return Value(v.as_float());
  if (v.is_string()) {
    if (std::optional<double> d = ParsePyFloat(v.as_string())) return Value(*d);
  }
  return def;
}

absl::StatusOr<Value> FilterAbs(Interpreter&, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("abs", std::move(args), {}).status());
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == std::numeric_limits<int64_t>::min()) {
      return absl::OutOfRangeError("integer overflow");
    }
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  if (v.is_undefined()) return UndefinedError(v);
  return TypeError(absl::StrCat("bad operand type for abs(): '", v.TypeName(), "'"));
}

absl::StatusOr<Value> FilterRound(Interpreter&, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("round", std::move(args), {"precision", "method"}));
  int64_t precision = 0;
  if (a[0]) {
    ASSIGN_OR_RETURN(precision, ToIndex(*a[0], "precision"));
  }
  std::string method = "common";
  if (a[1]) {
    ASSIGN_OR_RETURN(method, ToStr(*a[1]));
  }
  if (method != "common" && method != "ceil" && method != "floor") {
    return TypeError("method must be common, ceil or floor");
  }
  if (v.is_undefined()) return UndefinedError(v);
  if (!v.is_number()) {
    return TypeError(absl::StrCat("type ", v.TypeName(), " doesn't define __round__ method"));
  }
  if (method == "common") {
    if (!v.is_float()) {
      if (precision >= 0) return Value(v.as_int());
      return Value(static_cast<int64_t>(PyRound(static_cast<double>(v.as_int()), precision)));
    }
    return Value(PyRound(v.as_float(), precision));
  }
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_float() * scale;
  x = method == "ceil" ? std::ceil(x) : std::floor(x);
  return Value(x / scale);
}

absl::StatusOr<Value> FilterReplace(Interpreter& interp, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("replace", std::move(args), {"old", "new", "count"}));
  if (!a[0] || !a[1]) return TypeError("replace() missing required arguments 'old' and 'new'");
  ASSIGN_OR_RETURN(std::string s, ToStr(v));
  ASSIGN_OR_RETURN(std::string old, ToStr(*a[0]));
  ASSIGN_OR_RETURN(std::string repl, ToStr(*a[1]));
  int64_t count = -1;
  if (!IsNone(a[2])) {
    ASSIGN_OR_RETURN(count, ToIndex(*a[2], "count"));
  }
  CallArgs call;
  call.positional = {Value(old), Value(repl), Value(count)};
  return GetAttr(Value(s), "replace").value().callable().Call(interp, std::move(call));
}

absl::StatusOr<Value> FilterSafe(Interpreter&, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("safe", std::move(args), {}).status());
  ASSIGN_OR_RETURN(std::string s, ToStr(v));
  return Value(std::move(s));
}

absl::StatusOr<Value> FilterEscape(Interpreter&, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("escape", std::move(args), {}).status());
  ASSIGN_OR_RETURN(std::string s, ToStr(v));
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return Value(std::move(out));
}

absl::StatusOr<Value> FilterUnique(Interpreter& interp, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("unique", std::move(args), {"case_sensitive", "attribute"}));
  bool cs = a[0] && a[0]->Truthy();
  ASSIGN_OR_RETURN(ValueList items, Items(interp, v));
  RETURN_IF_ERROR(interp.ChargeIterations(static_cast<int64_t>(items.size() * items.size() / 64)));
  ValueList seen, out;
  for (const Value& item : items) {
    ASSIGN_OR_RETURN(Value key, SortKey(item, a[1], cs, false));
    bool dup = false;
    for (const Value& s : seen) {
      if (Equals(s, key)) {
        dup = true;
        break;
      }
    }
    if (dup) continue;
    seen.push_back(std::move(key));
    out.push_back(item);
  }
  return Value::Iterator(std::move(out));
}

absl::StatusOr<Value> FilterSort(Interpreter& interp, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a,
                   Bind("sort", std::move(args), {"reverse", "case_sensitive", "attribute"}));
  ASSIGN_OR_RETURN(ValueList items, Items(interp, v));
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : items) {
    ASSIGN_OR_RETURN(Value key, SortKey(item, a[2], a[1] && a[1]->Truthy(), true));
    keyed.emplace_back(std::move(key), item);
  }
  RETURN_IF_ERROR(internal::SortValues(&keyed, a[0] && a[0]->Truthy()));
  ValueList out;
  for (auto& [k, item] : keyed) out.push_back(std::move(item));
  return Value::List(std::move(out));
}

absl::StatusOr<Value> FilterDictSort(Interpreter& interp, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("dictsort", std::move(args), {"case_sensitive", "by", "reverse"}));
  if (!v.is_dict()) return TypeError("dictsort: value must be a mapping");
  size_t pos = 0;
  if (a[1]) {
    ASSIGN_OR_RETURN(std::string by, ToStr(*a[1]));
    if (by == "value") {
      pos = 1;
    } else if (by != "key") {
      return TypeError("You can only sort by either \"key\" or \"value\"");
    }
  }
  RETURN_IF_ERROR(interp.ChargeIterations(static_cast<int64_t>(v.dict().entries.size())));
  std::vector<std::pair<Value, Value>> keyed;
  for (const auto& [k, e] : v.dict().entries) {
    keyed.emplace_back(IgnoreCase(pos == 0 ? k : e, a[0] && a[0]->Truthy()), Value::Tuple({k, e}));
  }
  RETURN_IF_ERROR(internal::SortValues(&keyed, a[2] && a[2]->Truthy()));
  ValueList out;
  for (auto& [k, item] : keyed) out.push_back(std::move(item));
  return Value::List(std::move(out));
}

absl::StatusOr<Value> MinOrMax(Interpreter& interp, const Value& v, CallArgs args, bool max) {
  ASSIGN_OR_RETURN(auto a,
                   Bind(max ? "max" : "min", std::move(args), {"case_sensitive", "attribute"}));
  ASSIGN_OR_RETURN(ValueList items, Items(interp, v));
  if (items.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  ASSIGN_OR_RETURN(Value best_key, SortKey(items[0], a[1], a[0] && a[0]->Truthy(), false));
  for (size_t i = 1; i < items.size(); ++i) {
    ASSIGN_OR_RETURN(Value key, SortKey(items[i], a[1], a[0] && a[0]->Truthy(), false));
    ASSIGN_OR_RETURN(bool better, max ? Less(best_key, key) : Less(key, best_key));
    if (better) {
      best = i;
      best_key = std::move(key);
    }
  }
  return items[best];
}
absl::StatusOr<Value> FilterMin(Interpreter& i, const Value& v, CallArgs a) {
  return MinOrMax(i, v, std::move(a), false);
}
absl::StatusOr<Value> FilterMax(Interpreter& i, const Value& v, CallArgs a) {
  return MinOrMax(i, v, std::move(a), true);
}

absl::StatusOr<Value> FilterSum(Interpreter& interp, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("sum", std::move(args), {"attribute", "start"}));
  Value total = a[1] ? *a[1] : Value(int64_t{0});
  ASSIGN_OR_RETURN(ValueList items, Items(interp, v));
  for (const Value& item : items) {
    Value x = item;
    if (!IsNone(a[0])) {
      ASSIGN_OR_RETURN(x, AttrGet(item, *a[0]));
    }
    ASSIGN_OR_RETURN(total, BinaryOp(interp, "+", total, x));
  }
  return total;
}

absl::StatusOr<Value> FilterReverse(Interpreter& interp, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("reverse", std::move(args), {}).status());
  if (v.is_string()) {
    std::vector<char32_t> cps = DecodeUtf8(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value(EncodeUtf8(cps));
  }
  ASSIGN_OR_RETURN(ValueList items, Items(interp, v));
  std::reverse(items.begin(), items.end());
  // reversed() gives an iterator; a generator goes through list() first and stays a list.
  if (v.is_sequence() || v.is_dict()) return Value::Iterator(std::move(items));
  return Value::List(std::move(items));
}

absl::StatusOr<Value> FilterBatch(Interpreter& interp, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("batch", std::move(args), {"linecount", "fill_with"}));
  if (!a[0]) return TypeError("batch() missing required argument 'linecount'");
  ASSIGN_OR_RETURN(int64_t n, ToIndex(*a[0], "linecount"));
  if (n <= 0) return TypeError("batch: linecount must be positive");
  ASSIGN_OR_RETURN(ValueList items, Items(interp, v));
  ValueList out, cur;
  for (const Value& item : items) {
    if (static_cast<int64_t>(cur.size()) == n) {
      out.push_back(Value::List(std::move(cur)));
      cur.clear();
    }
    cur.push_back(item);
  }
  if (!cur.empty()) {
    if (!IsNone(a[1])) {
      RETURN_IF_ERROR(interp.ChargeIterations(n));
      while (static_cast<int64_t>(cur.size()) < n) cur.push_back(*a[1]);
    }
    out.push_back(Value::List(std::move(cur)));
  }
  return Value::Iterator(std::move(out));
}

absl::StatusOr<Value> FilterIndent(Interpreter& interp, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("indent", std::move(args), {"width", "first", "blank"}));
  std::string indention = "    ";
  if (a[0]) {
    if (a[0]->is_string()) {
      indention = a[0]->as_string();
    } else {
      ASSIGN_OR_RETURN(int64_t w, ToIndex(*a[0], "width"));
      indention = std::string(static_cast<size_t>(std::clamp<int64_t>(w, 0, 1024)), ' ');
    }
  }
  ASSIGN_OR_RETURN(std::string s, ToStr(v));
  s += "\n";
  CallArgs none;
  ASSIGN_OR_RETURN(Value lines_v, GetAttr(Value(s), "splitlines"));
  ASSIGN_OR_RETURN(Value split, lines_v.callable().Call(interp, std::move(none)));
  const ValueList& lines = split.items();
  std::string rv;
  if (a[2] && a[2]->Truthy()) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i].as_string();
    }
  } else {
    rv = lines.empty() ? "" : lines[0].as_string();
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].as_string().empty()) rv += indention;
      rv += lines[i].as_string();
    }
  }
  if (a[1] && a[1]->Truthy()) rv = indention + rv;
  RETURN_IF_ERROR(interp.CheckSize(rv.size()));
  return Value(std::move(rv));
}

absl::StatusOr<Value> FilterWordCount(Interpreter&, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(Bind("wordcount", std::move(args), {}).status());
  ASSIGN_OR_RETURN(std::string s, ToStr(v));
  int64_t words = 0;
  bool in_word = false;
  for (char32_t c : DecodeUtf8(s)) {
    std::string one;
    AppendUtf8(c, &one);
    bool word = c == '_' || (c < 0x80 ? std::isalnum(static_cast<int>(c)) != 0
                                      : !IsPyWhitespace(c) && PyUpper(one) != PyLower(one));
    if (word && !in_word) ++words;
    in_word = word;
  }
  return Value(words);
}

absl::StatusOr<Value> FilterAttr(Interpreter&, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("attr", std::move(args), {"name"}));
  if (!a[0]) return TypeError("attr() missing required argument 'name'");
  ASSIGN_OR_RETURN(std::string name, ToStr(*a[0]));
  ASSIGN_OR_RETURN(std::optional<Value> attr, internal::PyGetAttr(v, name));
  if (attr) return *attr;
  return Value::Undefined(
      absl::StrCat("'", v.TypeName(), " object' has no attribute '", name, "'"));
}

absl::StatusOr<Value> FilterFormat(Interpreter& interp, const Value& v, CallArgs args) {
  if (!args.positional.empty() && !args.keyword.empty()) {
    return TypeError("can't handle positional and keyword arguments at the same time");
  }
  ASSIGN_OR_RETURN(std::string s, ToStr(v));
  if (!args.keyword.empty()) {
    Dict d;
    for (auto& [k, val] : args.keyword) d.Set(Value(k), val);
    return BinaryOp(interp, "%", Value(s), Value::FromDict(std::move(d)));
  }
  return BinaryOp(interp, "%", Value(s), Value::Tuple(std::move(args.positional)));
}

const std::map<std::string, FilterFn>& Filters() {
  static const auto* const kFilters = new std::map<std::string, FilterFn>{
      {"abs", FilterAbs},
      {"attr", FilterAttr},
      {"batch", FilterBatch},
      {"capitalize", StringFilter<PyCapitalize>},
      {"count", FilterLength},
      {"d", FilterDefault},
      {"default", FilterDefault},
      {"dictsort", FilterDictSort},
      {"e", FilterEscape},
      {"escape", FilterEscape},
      {"first", FilterFirst},
      {"float", FilterFloat},
      {"format", FilterFormat},
      {"indent", FilterIndent},
      {"int", FilterInt},
      {"items", FilterItems},
      {"join", FilterJoin},
      {"last", FilterLast},
      {"length", FilterLength},
      {"list", FilterList},
      {"lower", StringFilter<PyLower>},
      {"map", FilterMap},
      {"max", FilterMax},
      {"min", FilterMin},
      {"reject", FilterReject},
      {"rejectattr", FilterRejectAttr},
      {"replace", FilterReplace},
      {"reverse", FilterReverse},
      {"round", FilterRound},
      {"safe", FilterSafe},
      {"select", FilterSelect},
      {"selectattr", FilterSelectAttr},
      {"sort", FilterSort},
      {"string", FilterString},
      {"sum", FilterSum},
      {"title", StringFilter<JinjaTitle>},
      {"tojson", FilterToJson},
      {"trim", FilterTrim},
      {"unique", FilterUnique},
      {"upper", StringFilter<PyUpper>},
      {"wordcount", FilterWordCount},
  };
  return *kFilters;
}

// ---- Tests -------------------------------------------------------------------------------------

absl::StatusOr<Value> OneArg(absl::string_view name, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind(name, std::move(args), {"other"}));
  if (!a[0]) return TypeError(absl::StrCat(name, "() missing required argument"));
  return *a[0];
}

absl::StatusOr<bool> NoArgs(absl::string_view name, CallArgs args) {
  RETURN_IF_ERROR(Bind(name, std::move(args), {}).status());
  return true;
}

#define MOESERVE_SIMPLE_TEST(fn, name, expr)                             \
  absl::StatusOr<bool> fn(Interpreter&, const Value& v, CallArgs args) { \
    RETURN_IF_ERROR(NoArgs(name, std::move(args)).status());             \
    return (expr);                                                       \
  }

MOESERVE_SIMPLE_TEST(TestDefined, "defined", !v.is_undefined())
MOESERVE_SIMPLE_TEST(TestUndefined, "undefined", v.is_undefined())
MOESERVE_SIMPLE_TEST(TestNone, "none", v.is_none())
MOESERVE_SIMPLE_TEST(TestBoolean, "boolean", v.is_bool())
MOESERVE_SIMPLE_TEST(TestTrue, "true", v.is_bool() && v.as_bool())
MOESERVE_SIMPLE_TEST(TestFalse, "false", v.is_bool() && !v.as_bool())
MOESERVE_SIMPLE_TEST(TestInteger, "integer", v.is_int())
MOESERVE_SIMPLE_TEST(TestFloat, "float", v.is_float())
MOESERVE_SIMPLE_TEST(TestNumber, "number", v.is_number())
MOESERVE_SIMPLE_TEST(TestString, "string", v.is_string())
MOESERVE_SIMPLE_TEST(TestMapping, "mapping", v.is_dict())
MOESERVE_SIMPLE_TEST(TestSequence, "sequence", v.is_sequence() || v.is_string() || v.is_dict())
MOESERVE_SIMPLE_TEST(TestIterable, "iterable",
                     v.is_sequence() || v.is_string() || v.is_dict() || v.is_iterator() ||
                         v.is_undefined())
MOESERVE_SIMPLE_TEST(TestCallable, "callable", v.is_callable())
MOESERVE_SIMPLE_TEST(TestEscaped, "escaped", false)
#undef MOESERVE_SIMPLE_TEST

absl::StatusOr<bool> TestLower(Interpreter& interp, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(NoArgs("lower", std::move(args)).status());
  ASSIGN_OR_RETURN(std::string s, ToStr(v));
  ASSIGN_OR_RETURN(Value r, GetAttr(Value(s), "islower").value().callable().Call(interp, {}));
  return r.as_bool();
}
absl::StatusOr<bool> TestUpper(Interpreter& interp, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(NoArgs("upper", std::move(args)).status());
  ASSIGN_OR_RETURN(std::string s, ToStr(v));
  ASSIGN_OR_RETURN(Value r, GetAttr(Value(s), "isupper").value().callable().Call(interp, {}));
  return r.as_bool();
}

// test_odd / test_even: value % 2 == 1 / value % 2 == 0.
absl::StatusOr<bool> OddEven(Interpreter& interp, const Value& v, CallArgs args, bool odd) {
  RETURN_IF_ERROR(NoArgs(odd ? "odd" : "even", std::move(args)).status());
  ASSIGN_OR_RETURN(Value m, BinaryOp(interp, "%", v, Value(int64_t{2})));
  return Equals(m, Value(int64_t{odd ? 1 : 0}));
}
absl::StatusOr<bool> TestOdd(Interpreter& i, const Value& v, CallArgs a) {
  return OddEven(i, v, std::move(a), true);
}
absl::StatusOr<bool> TestEven(Interpreter& i, const Value& v, CallArgs a) {
  return OddEven(i, v, std::move(a), false);
}

absl::StatusOr<bool> TestDivisibleBy(Interpreter& interp, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(Value n, OneArg("divisibleby", std::move(args)));
  ASSIGN_OR_RETURN(Value m, BinaryOp(interp, "%", v, n));
  return Equals(m, Value(int64_t{0}));
}

template <const char* kOp>
absl::StatusOr<bool> TestCompare(Interpreter&, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(Value other, OneArg(kOp, std::move(args)));
  return Compare(kOp, v, other);
}
constexpr char kEq[] = "==";
constexpr char kNe[] = "!=";
constexpr char kLt[] = "<";
constexpr char kLe[] = "<=";
constexpr char kGt[] = ">";
constexpr char kGe[] = ">=";
constexpr char kIn[] = "in";

absl::StatusOr<bool> TestSameAs(Interpreter&, const Value& v, CallArgs args) {
  ASSIGN_OR_RETURN(Value other, OneArg("sameas", std::move(args)));
  if (v.kind() != other.kind()) return false;
  switch (v.kind()) {
    case Value::Kind::kNone:
    case Value::Kind::kUndefined:
      return v.is_none();
    case Value::Kind::kBool:
      return v.as_bool() == other.as_bool();
    case Value::Kind::kInt:  // CPython caches the small integers.
      return v.as_int() == other.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable:
      return Equals(v, other);
    case Value::Kind::kList:
    case Value::Kind::kTuple:
    case Value::Kind::kIterator:
      return &v.items() == &other.items();
    case Value::Kind::kDict:
      return &v.dict() == &other.dict();
    default:
      return absl::UnimplementedError(
          "'sameas' on strings and floats depends on CPython "
          "object identity and is not supported");
  }
}

absl::StatusOr<bool> TestFilter(Interpreter&, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(NoArgs("filter", std::move(args)).status());
  return v.is_string() && IsKnownFilter(v.as_string());
}
absl::StatusOr<bool> TestTest(Interpreter&, const Value& v, CallArgs args) {
  RETURN_IF_ERROR(NoArgs("test", std::move(args)).status());
  return v.is_string() && IsKnownTest(v.as_string());
}

const std::map<std::string, TestFn>& Tests() {
  static const auto* const kTests = new std::map<std::string, TestFn>{
      {"!=", TestCompare<kNe>},
      {"<", TestCompare<kLt>},
      {"<=", TestCompare<kLe>},
      {"==", TestCompare<kEq>},
      {">", TestCompare<kGt>},
      {">=", TestCompare<kGe>},
      {"boolean", TestBoolean},
      {"callable", TestCallable},
      {"defined", TestDefined},
      {"divisibleby", TestDivisibleBy},
      {"eq", TestCompare<kEq>},
      {"equalto", TestCompare<kEq>},
      {"escaped", TestEscaped},
      {"even", TestEven},
      {"false", TestFalse},
      {"filter", TestFilter},
      {"float", TestFloat},
      {"ge", TestCompare<kGe>},
      {"greaterthan", TestCompare<kGt>},
      {"gt", TestCompare<kGt>},
      {"in", TestCompare<kIn>},
      {"integer", TestInteger},
      {"iterable", TestIterable},
      {"le", TestCompare<kLe>},
      {"lessthan", TestCompare<kLt>},
      {"lower", TestLower},
      {"lt", TestCompare<kLt>},
      {"mapping", TestMapping},
      {"ne", TestCompare<kNe>},
      {"none", TestNone},
      {"number", TestNumber},
      {"odd", TestOdd},
      {"sameas", TestSameAs},
      {"sequence", TestSequence},
      {"string", TestString},
      {"test", TestTest},
      {"true", TestTrue},
      {"undefined", TestUndefined},
      {"upper", TestUpper},
  };
  return *kTests;
}

}  // namespace

// ---- Public entry points -----------------------------------------------------------------------

bool IsKnownFilter(const std::string& name) { return Filters().count(name) != 0; }
bool IsKnownTest(const std::string& name) { return Tests().count(name) != 0; }

absl::StatusOr<Value> ApplyFilter(Interpreter& interp, const std::string& name,
                                  const Value& operand, CallArgs args) {
  auto it = Filters().find(name);
  if (it == Filters().end()) return TypeError(absl::StrCat("No filter named '", name, "'."));
  return it->second(interp, operand, std::move(args));
}

absl::StatusOr<bool> ApplyTest(Interpreter& interp, const std::string& name, const Value& operand,
                               CallArgs args) {
  auto it = Tests().find(name);
  if (it == Tests().end()) return TypeError(absl::StrCat("No test named '", name, "'."));
  return it->second(interp, operand, std::move(args));
}

}  // namespace moeserve::jinja
