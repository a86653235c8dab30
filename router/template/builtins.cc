// Builtins (see builtins.h). Each filter, test and method cites the Python/Jinja2 function whose
// behaviour it reproduces.
#include "router/template/builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/string_view.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "router/template/builtins_internal.h"
#include "router/template/text.h"
#include <utf8proc.h>

namespace moeserve::jinja {
namespace internal {

// ---- Small helpers -----------------------------------------------------------------------------

absl::Status TypeError(absl::string_view msg) { return absl::InvalidArgumentError(msg); }

absl::Status UndefinedError(const Value& v) {
  return absl::InvalidArgumentError(v.undefined_hint().empty() ? "value is undefined"
                                                               : v.undefined_hint());
}

// str(v) for output; objects whose str() is an address cannot be reproduced.
absl::StatusOr<std::string> ToStr(const Value& v) {
  if (v.is_callable() || v.is_iterator()) {
    return TypeError(absl::StrCat("cannot convert a ", v.TypeName(),
                                  " to a string (Python would give its memory address)"));
  }
  return Str(v);
}

// Binds call arguments to parameter names the way Python does; missing ones stay unset.
absl::StatusOr<std::vector<std::optional<Value>>> Bind(
    absl::string_view fn, CallArgs args, std::initializer_list<absl::string_view> names) {
  std::vector<absl::string_view> params(names);
  if (args.positional.size() > params.size()) {
    return TypeError(absl::StrCat(fn, "() takes at most ", params.size(), " argument(s) (",
                                  args.positional.size(), " given)"));
  }
  std::vector<std::optional<Value>> out(params.size());
  for (size_t i = 0; i < args.positional.size(); ++i) out[i] = std::move(args.positional[i]);
  for (auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < params.size() && params[i] != key) ++i;
    if (i == params.size()) {
      return TypeError(absl::StrCat(fn, "() got an unexpected keyword argument '", key, "'"));
    }
    if (out[i]) {
      return TypeError(absl::StrCat(fn, "() got multiple values for argument '", key, "'"));
    }
    out[i] = std::move(value);
  }
  return out;
}

absl::StatusOr<int64_t> ToIndex(const Value& v, absl::string_view what) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  return TypeError(absl::StrCat(what, " must be an integer, not ", v.TypeName()));
}

absl::StatusOr<std::string> ToStringArg(const Value& v, absl::string_view what) {
  if (v.is_string()) return v.as_string();
  return TypeError(absl::StrCat(what, " must be str, not ", v.TypeName()));
}

// ---- Python's sort keys -----------------------------------------------------------------------

// Sorts stably by Less; the first comparison error is returned.
absl::Status SortValues(std::vector<std::pair<Value, Value>>* keyed, bool reverse) {
  absl::Status error;
  std::stable_sort(keyed->begin(), keyed->end(), [&](const auto& x, const auto& y) {
    if (!error.ok()) return false;
    absl::StatusOr<bool> lt = reverse ? Less(y.first, x.first) : Less(x.first, y.first);
    if (!lt.ok()) {
      error = lt.status();
      return false;
    }
    return *lt;
  });
  return error;
}

Value IgnoreCase(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(PyLower(v.as_string()));
  return v;
}

}  // namespace internal

using namespace internal;  // NOLINT: the helpers are this file's own.

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

}  // namespace

// ---- Iteration, attributes, items --------------------------------------------------------------

absl::StatusOr<ValueList> Iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return ValueList();
    case Value::Kind::kList:
    case Value::Kind::kTuple:
    case Value::Kind::kIterator:
      return v.items();
    case Value::Kind::kDict: {
      ValueList keys;
      keys.reserve(v.dict().entries.size());
      for (const auto& [k, e] : v.dict().entries) keys.push_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      ValueList chars;
      for (char32_t cp : DecodeUtf8(v.as_string())) {
        std::string c;
        AppendUtf8(cp, &c);
        chars.emplace_back(std::move(c));
      }
      return chars;
    }
    default:
      return TypeError(absl::StrCat("'", v.TypeName(), "' object is not iterable"));
  }
}

namespace {

const std::set<std::string>& StringMethods() {
  static const auto* const kMethods = new std::set<std::string>{
      "startswith", "endswith", "split",  "rsplit",  "strip",   "lstrip",  "rstrip",
      "replace",    "upper",    "lower",  "title",   "capitalize", "find", "rfind",
      "index",      "rindex",   "count",  "format",  "join",    "isdigit", "isalpha",
      "isalnum",    "isspace",  "isupper", "islower", "splitlines", "swapcase", "zfill"};
  return *kMethods;
}
const std::set<std::string>& DictMethods() {
  static const auto* const kMethods =
      new std::set<std::string>{"items", "keys", "values", "get", "copy"};
  return *kMethods;
}
const std::set<std::string>& ListMethods() {
  static const auto* const kMethods = new std::set<std::string>{"count", "index", "copy"};
  return *kMethods;
}
// Methods the ImmutableSandboxedEnvironment refuses (they would mutate a list or dict).
const std::set<std::string>& UnsafeMethods() {
  static const auto* const kMethods = new std::set<std::string>{
      "append", "extend",  "insert",  "pop",   "remove",     "clear", "sort",
      "reverse", "update", "popitem", "setdefault", "__setitem__", "__delitem__"};
  return *kMethods;
}

absl::StatusOr<Value> CallMethod(Interpreter& interp, const Value& self, const std::string& name,
                                 CallArgs args);

class BoundMethod : public Callable {
 public:
  BoundMethod(Value self, std::string name) : self_(std::move(self)), name_(std::move(name)) {}
  std::string Name() const override { return absl::StrCat(self_.TypeName(), ".", name_); }
  absl::StatusOr<Value> Call(Interpreter& interp, CallArgs args) const override {
    return CallMethod(interp, self_, name_, std::move(args));
  }

 private:
  Value self_;
  std::string name_;
};

Value Method(const Value& self, const std::string& name) {
  return Value::FromCallable(std::make_shared<BoundMethod>(self, name));
}

Value NoAttribute(const Value& obj, const std::string& name) {
  return Value::Undefined(
      absl::StrCat("'", obj.TypeName(), " object' has no attribute '", name, "'"));
}

}  // namespace

absl::StatusOr<std::optional<Value>> internal::PyGetAttr(const Value& obj, const std::string& name) {
  if ((obj.is_sequence() || obj.is_dict()) && UnsafeMethods().count(name)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "access to attribute '", name, "' of '", obj.TypeName(), "' object is unsafe."));
  }
  switch (obj.kind()) {
    case Value::Kind::kString:
      if (StringMethods().count(name)) return Method(obj, name);
      break;
    case Value::Kind::kDict:
      if (DictMethods().count(name)) return Method(obj, name);
      break;
    case Value::Kind::kList:
      if (ListMethods().count(name)) return Method(obj, name);
      break;
    case Value::Kind::kTuple:
      if (name == "count" || name == "index") return Method(obj, name);
      break;
    case Value::Kind::kNamespace:
      if (const Value* v = obj.ns().attrs.Find(name)) return *v;
      break;
    default:
      break;
  }
  return std::optional<Value>();
}

namespace {

// Python obj[key] without the attribute fallback; nullopt where Python raises a lookup error.
absl::StatusOr<std::optional<Value>> PyGetItem(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::kDict:
      if (const Value* v = obj.dict().Find(key)) return *v;
      return std::optional<Value>();
    case Value::Kind::kList:
    case Value::Kind::kTuple: {
      if (!key.is_int() && !key.is_bool()) return std::optional<Value>();
      int64_t n = static_cast<int64_t>(obj.items().size());
      int64_t i = key.as_int();
      if (i < 0) i += n;
      if (i < 0 || i >= n) return std::optional<Value>();
      return obj.items()[static_cast<size_t>(i)];
    }
    case Value::Kind::kString: {
      if (!key.is_int() && !key.is_bool()) return std::optional<Value>();
      std::vector<char32_t> cps = DecodeUtf8(obj.as_string());
      int64_t n = static_cast<int64_t>(cps.size());
      int64_t i = key.as_int();
      if (i < 0) i += n;
      if (i < 0 || i >= n) return std::optional<Value>();
      std::string c;
      AppendUtf8(cps[static_cast<size_t>(i)], &c);
      return Value(std::move(c));
    }
    default:
      return std::optional<Value>();
  }
}

}  // namespace

absl::StatusOr<Value> GetAttr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) return UndefinedError(obj);
  ASSIGN_OR_RETURN(std::optional<Value> attr, PyGetAttr(obj, name));
  if (attr) return *attr;
  ASSIGN_OR_RETURN(std::optional<Value> item, PyGetItem(obj, Value(name)));
  if (item) return *item;
  return NoAttribute(obj, name);
}

absl::StatusOr<Value> GetItem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return UndefinedError(obj);
  ASSIGN_OR_RETURN(std::optional<Value> item, PyGetItem(obj, key));
  if (item) return *item;
  if (key.is_string()) {
    ASSIGN_OR_RETURN(std::optional<Value> attr, PyGetAttr(obj, key.as_string()));
    if (attr) return *attr;
  }
  return Value::Undefined(absl::StrCat("'", obj.TypeName(), " object' has no element ",
                                       Repr(key)));
}

absl::StatusOr<Value> GetSlice(const Value& obj, const Value& start, const Value& stop,
                               const Value& step) {
  if (!obj.is_sequence() && !obj.is_string()) {
    if (obj.is_undefined()) return UndefinedError(obj);
    return TypeError(absl::StrCat("'", obj.TypeName(), "' object is not subscriptable"));
  }
  auto bound = [](const Value& v) -> absl::StatusOr<std::optional<int64_t>> {
    if (v.is_none() || v.is_undefined()) return std::optional<int64_t>();
    if (v.is_int() || v.is_bool()) return std::optional<int64_t>(v.as_int());
    return TypeError("slice indices must be integers or None");
  };
  ASSIGN_OR_RETURN(std::optional<int64_t> b0, bound(start));
  ASSIGN_OR_RETURN(std::optional<int64_t> b1, bound(stop));
  ASSIGN_OR_RETURN(std::optional<int64_t> b2, bound(step));
  int64_t st = b2.value_or(1);
  if (st == 0) return absl::InvalidArgumentError("slice step cannot be zero");
  std::vector<char32_t> cps;
  int64_t n;
  if (obj.is_string()) {
    cps = DecodeUtf8(obj.as_string());
    n = static_cast<int64_t>(cps.size());
  } else {
    n = static_cast<int64_t>(obj.items().size());
  }
  // CPython's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  int64_t lo = adjust(b0, st < 0 ? n - 1 : 0);
  int64_t hi = adjust(b1, st < 0 ? -1 : n);
  std::vector<int64_t> idx;
  if (st > 0) {
    for (int64_t i = lo; i < hi; i += st) idx.push_back(i);
  } else {
    for (int64_t i = lo; i > hi; i += st) idx.push_back(i);
  }
  if (obj.is_string()) {
    std::string out;
    for (int64_t i : idx) AppendUtf8(cps[static_cast<size_t>(i)], &out);
    return Value(std::move(out));
  }
  ValueList out;
  out.reserve(idx.size());
  for (int64_t i : idx) out.push_back(obj.items()[static_cast<size_t>(i)]);
  return obj.is_tuple() ? Value::Tuple(std::move(out)) : Value::List(std::move(out));
}

// ---- Operators ---------------------------------------------------------------------------------

namespace {

absl::Status Overflow() {
  return absl::OutOfRangeError(
      "integer overflow (Python would switch to an arbitrary-precision integer)");
}

// Python float floor division and modulo (floatobject.c float_divmod).
std::pair<double, double> FloatDivmod(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0) {
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, b);
  }
  double floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, a / b);
  }
  return {floordiv, mod};
}

// Python `fmt % args` for %s %r %d %i %f (with an optional precision) and %%.
absl::StatusOr<Value> PercentFormat(const std::string& fmt, const Value& args) {
  ValueList values = args.is_tuple() ? args.items() : ValueList{args};
  const Dict* mapping = args.is_dict() ? &args.dict() : nullptr;
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (++i >= fmt.size()) return TypeError("incomplete format");
    if (fmt[i] == '%') {
      out.push_back('%');
      continue;
    }
    const Value* arg = nullptr;
    if (fmt[i] == '(' && mapping != nullptr) {
      size_t close = fmt.find(')', i);
      if (close == std::string::npos) return TypeError("incomplete format key");
      arg = mapping->Find(fmt.substr(i + 1, close - i - 1));
      if (arg == nullptr) return absl::NotFoundError(fmt.substr(i + 1, close - i - 1));
      i = close + 1;
      if (i >= fmt.size()) return TypeError("incomplete format");
    }
    int precision = -1;
    if (fmt[i] == '.') {
      precision = 0;
      while (++i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
        precision = precision * 10 + (fmt[i] - '0');
        if (precision > 100) return TypeError("format precision too large");
      }
      if (i >= fmt.size()) return TypeError("incomplete format");
    }
    if (arg == nullptr) {
      if (mapping != nullptr) return TypeError("format requires a mapping");
      if (next >= values.size()) return TypeError("not enough arguments for format string");
      arg = &values[next++];
    }
    char conv = fmt[i];
    if (conv == 's') {
      ASSIGN_OR_RETURN(std::string s, ToStr(*arg));
      out += s;
    } else if (conv == 'r') {
      out += Repr(*arg);
    } else if (conv == 'd' || conv == 'i') {
      if (!arg->is_number()) {
        return TypeError(absl::StrCat("%", std::string(1, conv),
                                      " format: a real number is required, not ",
                                      arg->TypeName()));
      }
      if (arg->is_float()) {
        double t = std::trunc(arg->as_float());
        if (!std::isfinite(t) || std::fabs(t) > 9e18) return Overflow();
        out += std::to_string(static_cast<int64_t>(t));
      } else {
        out += std::to_string(arg->as_int());
      }
    } else if (conv == 'f' || conv == 'F') {
      if (!arg->is_number()) return TypeError("must be real number");
      char buf[512];
      std::snprintf(buf, sizeof(buf), "%.*f", precision < 0 ? 6 : precision, arg->as_float());
      out += buf;
    } else {
      return absl::UnimplementedError(
          absl::StrCat("the '%", std::string(1, conv), "' string format is not supported"));
    }
  }
  if (mapping == nullptr && next < values.size()) {
    return TypeError("not all arguments converted during string formatting");
  }
  return Value(std::move(out));
}

absl::StatusOr<Value> Repeat(Interpreter& interp, const Value& seq, int64_t times) {
  if (times <= 0) return seq.is_string() ? Value("") : Value::List({});
  size_t unit = seq.is_string() ? seq.as_string().size() : seq.items().size();
  if (unit != 0 && static_cast<uint64_t>(times) > (1u << 30) / unit) {
    return absl::ResourceExhaustedError("repetition result too large");
  }
  if (seq.is_string()) {
    RETURN_IF_ERROR(interp.CheckSize(unit * static_cast<size_t>(times)));
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.as_string();
    return Value(std::move(out));
  }
  RETURN_IF_ERROR(interp.ChargeIterations(static_cast<int64_t>(unit) * times));
  ValueList out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.items().begin(), seq.items().end());
  return seq.is_tuple() ? Value::Tuple(std::move(out)) : Value::List(std::move(out));
}

}  // namespace

absl::StatusOr<Value> BinaryOp(Interpreter& interp, const std::string& op, const Value& a,
                               const Value& b) {
  if (op == "~") {
    ASSIGN_OR_RETURN(std::string x, ToStr(a));
    ASSIGN_OR_RETURN(std::string y, ToStr(b));
    RETURN_IF_ERROR(interp.CheckSize(x.size() + y.size()));
    return Value(x + y);
  }
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  auto unsupported = [&]() {
    return TypeError(absl::StrCat("unsupported operand type(s) for ", op, ": '", a.TypeName(),
                                  "' and '", b.TypeName(), "'"));
  };
  if (a.is_number() && b.is_number()) {
    const bool ints = !a.is_float() && !b.is_float();
    const int64_t x = a.as_int(), y = b.as_int();
    const double fx = a.as_float(), fy = b.as_float();
    int64_t r;
    if (op == "+") {
      if (!ints) return Value(fx + fy);
      if (__builtin_add_overflow(x, y, &r)) return Overflow();
      return Value(r);
    }
    if (op == "-") {
      if (!ints) return Value(fx - fy);
      if (__builtin_sub_overflow(x, y, &r)) return Overflow();
      return Value(r);
    }
    if (op == "*") {
      if (!ints) return Value(fx * fy);
      if (__builtin_mul_overflow(x, y, &r)) return Overflow();
      return Value(r);
    }
    if (op == "/") {
      if (fy == 0) return absl::InvalidArgumentError("division by zero");
      return Value(fx / fy);
    }
    if (op == "//" || op == "%") {
      if (ints) {
        if (y == 0) return absl::InvalidArgumentError("integer division or modulo by zero");
        if (x == std::numeric_limits<int64_t>::min() && y == -1) return Overflow();
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          --q;
          m += y;
        }
        return Value(op == "//" ? q : m);
      }
      if (fy == 0) return absl::InvalidArgumentError("float divmod()");
      auto [q, m] = FloatDivmod(fx, fy);
      return Value(op == "//" ? q : m);
    }
    if (op == "**") {
      if (ints && y >= 0) {
        int64_t result = 1, base = x, e = y;
        while (e > 0) {
          if (e & 1) {
            if (__builtin_mul_overflow(result, base, &result)) return Overflow();
          }
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) return Overflow();
        }
        return Value(result);
      }
      if (fx == 0 && fy < 0) {
        return absl::InvalidArgumentError("0.0 cannot be raised to a negative power");
      }
      if (fx < 0 && fy != std::floor(fy)) {
        return absl::UnimplementedError("complex results of ** are not supported");
      }
      return Value(std::pow(fx, fy));
    }
    return unsupported();
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      RETURN_IF_ERROR(interp.CheckSize(a.as_string().size() + b.as_string().size()));
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_string() || b.is_string()) {
      if (a.is_string()) {
        return TypeError(
            absl::StrCat("can only concatenate str (not \"", b.TypeName(), "\") to str"));
      }
      return unsupported();
    }
    if (a.kind() == b.kind() && a.is_sequence()) {
      ValueList out = a.items();
      out.insert(out.end(), b.items().begin(), b.items().end());
      RETURN_IF_ERROR(interp.ChargeIterations(static_cast<int64_t>(out.size())));
      return a.is_tuple() ? Value::Tuple(std::move(out)) : Value::List(std::move(out));
    }
    return unsupported();
  }
  if (op == "*") {
    if ((a.is_string() || a.is_sequence()) && (b.is_int() || b.is_bool())) {
      return Repeat(interp, a, b.as_int());
    }
    if ((b.is_string() || b.is_sequence()) && (a.is_int() || a.is_bool())) {
      return Repeat(interp, b, a.as_int());
    }
    return unsupported();
  }
  if (op == "%" && a.is_string()) return PercentFormat(a.as_string(), b);
  return unsupported();
}

namespace {

// Python ordering comparisons (<, <=, >, >=) including NaN behaviour and sequences.
absl::StatusOr<bool> Ordered(const std::string& op, const Value& a, const Value& b) {
  auto apply = [&](auto x, auto y) {
    if (op == "<") return x < y;
    if (op == "<=") return x <= y;
    if (op == ">") return x > y;
    return x >= y;
  };
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return apply(a.as_float(), b.as_float());
    return apply(a.as_int(), b.as_int());
  }
  if (a.is_string() && b.is_string()) return apply(a.as_string(), b.as_string());
  if (a.kind() == b.kind() && a.is_sequence()) {
    const ValueList& x = a.items();
    const ValueList& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!Equals(x[i], y[i])) return Ordered(op, x[i], y[i]);
    }
    return apply(x.size(), y.size());
  }
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  return TypeError(absl::StrCat("'", op, "' not supported between instances of '", a.TypeName(),
                                "' and '", b.TypeName(), "'"));
}

absl::StatusOr<bool> Contains(const Value& item, const Value& container) {
  switch (container.kind()) {
    case Value::Kind::kString:
      if (!item.is_string()) {
        return TypeError(absl::StrCat("'in <string>' requires string as left operand, not ",
                                      item.TypeName()));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kList:
    case Value::Kind::kTuple:
    case Value::Kind::kIterator:
      for (const Value& v : container.items()) {
        if (Equals(v, item)) return true;
      }
      return false;
    case Value::Kind::kDict:
      return container.dict().Find(item) != nullptr;
    case Value::Kind::kUndefined:
      return false;
    default:
      return TypeError(
          absl::StrCat("argument of type '", container.TypeName(), "' is not iterable"));
  }
}

}  // namespace

absl::StatusOr<bool> Compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return Equals(a, b);
  if (op == "!=") return !Equals(a, b);
  if (op == "in") return Contains(a, b);
  if (op == "notin") {
    ASSIGN_OR_RETURN(bool in, Contains(a, b));
    return !in;
  }
  return Ordered(op, a, b);
}

// ---- Methods of str, dict, list ----------------------------------------------------------------

namespace {

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
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
         c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
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
         cat == UTF8PROC_CATEGORY_LT || cat == UTF8PROC_CATEGORY_LM ||
         cat == UTF8PROC_CATEGORY_LO;
}
bool IsDigitCp(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ND;
}
bool IsNumericCp(char32_t c) {
  utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL ||
         cat == UTF8PROC_CATEGORY_NO;
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
        return TypeError(absl::StrCat("tuple for ", fn, " must only contain str, not ",
                                      a.TypeName()));
      }
      if (one(a.as_string())) return true;
    }
    return false;
  }
  return TypeError(absl::StrCat(fn, " first arg must be str or a tuple of str, not ",
                                affix.TypeName()));
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
    if (IsNone(a[0])) return Value::List(StringsToValues(SplitWhitespace(s, maxsplit,
                                                                         name == "rsplit")));
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
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" ||
      name == "count") {
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
      std::string window = s.substr(ByteOffset(s, start), ByteOffset(s, end) - ByteOffset(s, start));
      if (sub.empty()) return Value(end - start + 1);
      int64_t c = 0;
      for (size_t p = window.find(sub); p != std::string::npos; p = window.find(sub, p + sub.size())) {
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
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) return Value(s.substr(0, 1) + pad + s.substr(1));
    return Value(pad + s);
  }
  return absl::UnimplementedError(absl::StrCat("str.", name, "() is not supported"));
}

absl::StatusOr<Value> CallMethod(Interpreter& interp, const Value& self, const std::string& name,
                                 CallArgs args) {
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

}  // namespace

}  // namespace moeserve::jinja
