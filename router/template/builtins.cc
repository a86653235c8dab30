// Builtins (see builtins.h). Each filter, test and method cites the Python/Jinja2 function whose
// behaviour it reproduces.
#include "router/template/builtins.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "router/template/builtins_internal.h"
#include "router/template/text.h"

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

using internal::CallMethod;
using internal::PyGetAttr;
using internal::ToStr;
using internal::TypeError;
using internal::UndefinedError;

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
      "startswith", "endswith", "split",   "rsplit",  "strip",      "lstrip",   "rstrip",
      "replace",    "upper",    "lower",   "title",   "capitalize", "find",     "rfind",
      "index",      "rindex",   "count",   "format",  "join",       "isdigit",  "isalpha",
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
      "append",  "extend", "insert",  "pop",        "remove",      "clear",      "sort",
      "reverse", "update", "popitem", "setdefault", "__setitem__", "__delitem__"};
  return *kMethods;
}

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

absl::StatusOr<std::optional<Value>> internal::PyGetAttr(const Value& obj,
                                                         const std::string& name) {
  if ((obj.is_sequence() || obj.is_dict()) && UnsafeMethods().count(name)) {
    return absl::PermissionDeniedError(absl::StrCat("access to attribute '", name, "' of '",
                                                    obj.TypeName(), "' object is unsafe."));
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
  return Value::Undefined(absl::StrCat("'", obj.TypeName(), " object' has no element ", Repr(key)));
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
                                      " format: a real number is required, not ", arg->TypeName()));
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
        return TypeError(
            absl::StrCat("'in <string>' requires string as left operand, not ", item.TypeName()));
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

}  // namespace moeserve::jinja
