// Global functions (see builtins.h): Jinja's range/namespace/dict as the sandbox provides them,
// and Hugging Face's raise_exception and strftime_now.
#include <cmath>
#include <ctime>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "router/template/builtins.h"
#include "router/template/builtins_internal.h"

namespace moeserve::jinja {

using internal::Bind;
using internal::ToIndex;
using internal::TypeError;

namespace {

// ---- Globals -----------------------------------------------------------------------------------

using GlobalFn = absl::StatusOr<Value> (*)(Interpreter&, CallArgs);

class GlobalFunction : public Callable {
 public:
  GlobalFunction(std::string name, GlobalFn fn) : name_(std::move(name)), fn_(fn) {}
  std::string Name() const override { return name_; }
  absl::StatusOr<Value> Call(Interpreter& interp, CallArgs args) const override {
    return fn_(interp, std::move(args));
  }

 private:
  std::string name_;
  GlobalFn fn_;
};

absl::StatusOr<Value> GlobalRange(Interpreter& interp, CallArgs args) {
  if (!args.keyword.empty()) return TypeError("range() takes no keyword arguments");
  std::vector<int64_t> a;
  for (const Value& v : args.positional) {
    ASSIGN_OR_RETURN(int64_t x, ToIndex(v, "range() argument"));
    a.push_back(x);
  }
  if (a.empty() || a.size() > 3) return TypeError("range expected 1 to 3 arguments");
  int64_t start = a.size() == 1 ? 0 : a[0];
  int64_t stop = a.size() == 1 ? a[0] : a[1];
  int64_t step = a.size() == 3 ? a[2] : 1;
  if (step == 0) return absl::InvalidArgumentError("range() arg 3 must not be zero");
  // Jinja's sandbox refuses ranges longer than MAX_RANGE.
  constexpr int64_t kMaxRange = 100000;
  double len = step > 0 ? std::ceil((static_cast<double>(stop) - static_cast<double>(start)) /
                                    static_cast<double>(step))
                        : std::ceil((static_cast<double>(start) - static_cast<double>(stop)) /
                                    static_cast<double>(-step));
  if (len > kMaxRange) {
    return absl::ResourceExhaustedError(
        "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  }
  ValueList out;
  if (len > 0) {
    RETURN_IF_ERROR(interp.ChargeIterations(static_cast<int64_t>(len)));
    for (int64_t i = 0; i < static_cast<int64_t>(len); ++i) out.emplace_back(start + i * step);
  }
  return Value::List(std::move(out));
}

absl::StatusOr<Dict> DictFromArgs(absl::string_view fn, CallArgs args) {
  Dict d;
  if (args.positional.size() > 1) {
    return TypeError(absl::StrCat(fn, " expected at most 1 argument"));
  }
  if (!args.positional.empty()) {
    const Value& src = args.positional[0];
    if (src.is_dict()) {
      d = src.dict();
    } else {
      ASSIGN_OR_RETURN(ValueList pairs, Iterate(src));
      for (const Value& p : pairs) {
        if (!p.is_sequence() || p.items().size() != 2) {
          return TypeError(absl::StrCat(fn, ": sequence elements must be pairs"));
        }
        d.Set(p.items()[0], p.items()[1]);
      }
    }
  }
  for (auto& [k, v] : args.keyword) d.Set(Value(k), std::move(v));
  return d;
}

absl::StatusOr<Value> GlobalNamespace(Interpreter& interp, CallArgs args) {
  ASSIGN_OR_RETURN(Dict d, DictFromArgs("namespace", std::move(args)));
  auto ns = std::make_shared<Namespace>();
  ns->attrs = std::move(d);
  interp.TrackNamespace(ns);
  return Value::FromNamespace(std::move(ns));
}

absl::StatusOr<Value> GlobalDict(Interpreter&, CallArgs args) {
  ASSIGN_OR_RETURN(Dict d, DictFromArgs("dict", std::move(args)));
  return Value::FromDict(std::move(d));
}

absl::StatusOr<Value> GlobalRaiseException(Interpreter&, CallArgs args) {
  ASSIGN_OR_RETURN(auto a, Bind("raise_exception", std::move(args), {"message"}));
  if (!a[0]) return TypeError("raise_exception() missing required argument 'message'");
  return UserError(Str(*a[0]));
}

absl::StatusOr<Value> GlobalStrftimeNow(Interpreter& interp, CallArgs args) {
  // Hugging Face: datetime.now().strftime(format).
  ASSIGN_OR_RETURN(auto a, Bind("strftime_now", std::move(args), {"format"}));
  if (!a[0] || !a[0]->is_string()) return TypeError("strftime_now() needs a format string");
  const std::string& fmt = a[0]->as_string();
  if (fmt.empty()) return Value("");
  std::time_t now =
      interp.render_options().now ? interp.render_options().now() : std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::string buf(fmt.size() * 8 + 64, '\0');
  size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
  if (n == 0) return absl::InvalidArgumentError("strftime_now: result too long");
  buf.resize(n);
  return Value(std::move(buf));
}

}  // namespace

std::optional<Value> LookupGlobal(const std::string& name) {
  static const auto* const kGlobals = [] {
    auto* m = new std::map<std::string, Value>;
    auto add = [&](const char* n, GlobalFn fn) {
      (*m)[n] = Value::FromCallable(std::make_shared<GlobalFunction>(n, fn));
    };
    add("range", GlobalRange);
    add("namespace", GlobalNamespace);
    add("dict", GlobalDict);
    add("raise_exception", GlobalRaiseException);
    add("strftime_now", GlobalStrftimeNow);
    return m;
  }();
  auto it = kGlobals->find(name);
  if (it == kGlobals->end()) return std::nullopt;
  return it->second;
}

}  // namespace moeserve::jinja
