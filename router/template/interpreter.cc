// Interpreter (see interpreter.h).
#include "router/template/interpreter.h"

#include <limits>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "router/template/builtins.h"

namespace moeserve::jinja {
namespace {

constexpr char kUserErrorPayload[] = "moeserve.jinja/raise_exception";
constexpr char kAnnotatedPayload[] = "moeserve.jinja/annotated";

// Prefixes an error with the template line it happened on, once.
absl::Status AtLine(absl::Status s, int line) {
  if (s.ok() || s.GetPayload(kUserErrorPayload) || s.GetPayload(kAnnotatedPayload)) return s;
  absl::Status annotated(s.code(),
                         absl::StrCat("template error at line ", line, ": ", s.message()));
  annotated.SetPayload(kAnnotatedPayload, absl::Cord("1"));
  return annotated;
}

absl::Status UndefinedError(const Value& v) {
  return absl::InvalidArgumentError(v.undefined_hint().empty() ? "value is undefined"
                                                               : v.undefined_hint());
}

// A macro, or the body of a call block passed to a macro as `caller`.
class MacroCallable : public Callable {
 public:
  MacroCallable(const Stmt* def, std::vector<const Expr*> defaults, ScopePtr closure, Value caller)
      : def_(def),
        defaults_(std::move(defaults)),
        closure_(std::move(closure)),
        caller_(std::move(caller)) {}

  std::string Name() const override {
    return def_->kind == Stmt::Kind::kMacro ? def_->name : "caller";
  }
  absl::StatusOr<Value> Call(Interpreter& interp, CallArgs args) const override {
    return interp.InvokeMacro(*def_, defaults_, closure_, caller_, std::move(args));
  }
  const Stmt& def() const { return *def_; }
  const std::vector<const Expr*>& defaults() const { return defaults_; }
  const ScopePtr& closure() const { return closure_; }

 private:
  const Stmt* def_;  // Owned by the Template, which outlives the render.
  std::vector<const Expr*> defaults_;
  ScopePtr closure_;
  Value caller_;
};

// loop.cycle(a, b, ...): the argument at loop.index0 modulo their count.
class LoopCycle : public Callable {
 public:
  explicit LoopCycle(int64_t index0) : index0_(index0) {}
  std::string Name() const override { return "loop.cycle"; }
  absl::StatusOr<Value> Call(Interpreter&, CallArgs args) const override {
    if (args.positional.empty()) return absl::InvalidArgumentError("no items for cycling given");
    return args.positional[static_cast<size_t>(index0_) % args.positional.size()];
  }

 private:
  int64_t index0_;
};

}  // namespace

absl::Status UserError(absl::string_view message) {
  absl::Status s = absl::InvalidArgumentError(message);
  s.SetPayload(kUserErrorPayload, absl::Cord("1"));
  return s;
}

const Value* Scope::Find(const std::string& name) const {
  for (const auto& [k, v] : vars) {
    if (k == name) return &v;
  }
  return nullptr;
}

void Scope::Set(const std::string& name, Value value) {
  for (auto& [k, v] : vars) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars.emplace_back(name, std::move(value));
}

Interpreter::~Interpreter() {
  // Values never outlive the render (its result is a string), so emptying every scope a
  // callable closed over and every namespace frees whatever cycles they formed.
  for (const std::weak_ptr<Scope>& w : closures_) {
    if (ScopePtr s = w.lock()) {
      std::vector<std::pair<std::string, Value>> vars;
      vars.swap(s->vars);
      s->parent.reset();
    }
  }
  for (const std::weak_ptr<Namespace>& w : namespaces_) {
    if (std::shared_ptr<Namespace> ns = w.lock()) {
      std::vector<std::pair<Value, Value>> entries;
      entries.swap(ns->attrs.entries);
    }
  }
}

absl::Status Interpreter::Render(const Body& body, const Dict& variables, std::string* out) {
  auto root = std::make_shared<Scope>();
  for (const auto& [k, v] : variables.entries) {
    if (k.is_string()) root->Set(k.as_string(), v);
  }
  return ExecBody(body, root, out).status();
}

absl::Status Interpreter::CheckSize(size_t bytes) const {
  if (bytes > options_.max_output_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("output exceeds the limit of ", options_.max_output_bytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status Interpreter::ChargeIterations(int64_t n) {
  iterations_ += n;
  if (iterations_ > options_.max_loop_iterations) {
    return absl::ResourceExhaustedError(
        absl::StrCat("more than ", options_.max_loop_iterations, " loop iterations in one render"));
  }
  return absl::OkStatus();
}

Value Interpreter::Lookup(const std::string& name, const ScopePtr& scope) const {
  for (const Scope* s = scope.get(); s != nullptr; s = s->parent.get()) {
    if (const Value* v = s->Find(name)) return *v;
  }
  if (std::optional<Value> g = LookupGlobal(name)) return *g;
  return Value::Undefined(absl::StrCat("'", name, "' is undefined"));
}

absl::StatusOr<Interpreter::Flow> Interpreter::ExecBody(const Body& body, const ScopePtr& scope,
                                                        std::string* out) {
  for (const StmtPtr& s : body) {
    absl::StatusOr<Flow> flow = Exec(*s, scope, out);
    if (!flow.ok()) return AtLine(flow.status(), s->line);
    if (*flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

absl::StatusOr<Interpreter::Flow> Interpreter::Exec(const Stmt& s, const ScopePtr& scope,
                                                    std::string* out) {
  switch (s.kind) {
    case Stmt::Kind::kData:
      out->append(s.text);
      RETURN_IF_ERROR(CheckSize(out->size()));
      return Flow::kNormal;
    case Stmt::Kind::kPrint: {
      ASSIGN_OR_RETURN(Value v, Eval(*s.exprs[0], scope));
      if (v.is_callable() || v.is_iterator()) {
        return absl::InvalidArgumentError(absl::StrCat("cannot print a ", v.TypeName(),
                                                       " (Python would print its memory address)"));
      }
      out->append(Str(v));
      RETURN_IF_ERROR(CheckSize(out->size()));
      return Flow::kNormal;
    }
    case Stmt::Kind::kIf:
      for (size_t i = 0; i < s.exprs.size(); ++i) {
        ASSIGN_OR_RETURN(Value cond, Eval(*s.exprs[i], scope));
        if (cond.Truthy()) return ExecBody(s.bodies[i], scope, out);
      }
      if (s.bodies.size() > s.exprs.size()) return ExecBody(s.bodies.back(), scope, out);
      return Flow::kNormal;
    case Stmt::Kind::kFor:
      return ExecFor(s, scope, out);
    case Stmt::Kind::kSet: {
      ASSIGN_OR_RETURN(Value v, Eval(*s.exprs[0], scope));
      RETURN_IF_ERROR(Assign(s, scope, std::move(v)));
      return Flow::kNormal;
    }
    case Stmt::Kind::kSetBlock: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      std::string text;
      RETURN_IF_ERROR(ExecBody(s.bodies[0], inner, &text).status());
      Value v(std::move(text));
      if (s.exprs[0]) {
        ASSIGN_OR_RETURN(v, ApplyFilterChain(*s.exprs[0], std::move(v), scope));
      }
      RETURN_IF_ERROR(Assign(s, scope, std::move(v)));
      return Flow::kNormal;
    }
    case Stmt::Kind::kMacro: {
      std::vector<const Expr*> defaults;
      for (const ExprPtr& d : s.exprs) defaults.push_back(d.get());
      closures_.push_back(scope);
      scope->Set(s.name, Value::FromCallable(std::make_shared<MacroCallable>(
                             &s, std::move(defaults), scope, Value())));
      return Flow::kNormal;
    }
    case Stmt::Kind::kCallBlock: {
      const Expr& call = *s.exprs[0];
      ASSIGN_OR_RETURN(Value callee, Eval(*call.args[0], scope));
      const auto* macro =
          callee.is_callable() ? dynamic_cast<const MacroCallable*>(&callee.callable()) : nullptr;
      if (macro == nullptr) {
        return absl::InvalidArgumentError("{% call %} needs a macro to call");
      }
      std::vector<const Expr*> defaults;
      for (size_t i = 1; i < s.exprs.size(); ++i) defaults.push_back(s.exprs[i].get());
      closures_.push_back(scope);
      Value caller = Value::FromCallable(
          std::make_shared<MacroCallable>(&s, std::move(defaults), scope, Value()));
      ASSIGN_OR_RETURN(CallArgs args, EvalArgs(call, 1, scope));
      ASSIGN_OR_RETURN(Value result, InvokeMacro(macro->def(), macro->defaults(), macro->closure(),
                                                 caller, std::move(args)));
      out->append(Str(result));
      RETURN_IF_ERROR(CheckSize(out->size()));
      return Flow::kNormal;
    }
    case Stmt::Kind::kFilterBlock: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      std::string text;
      RETURN_IF_ERROR(ExecBody(s.bodies[0], inner, &text).status());
      ASSIGN_OR_RETURN(Value v, ApplyFilterChain(*s.exprs[0], Value(std::move(text)), scope));
      out->append(Str(v));
      RETURN_IF_ERROR(CheckSize(out->size()));
      return Flow::kNormal;
    }
    case Stmt::Kind::kWith: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      for (size_t i = 0; i < s.targets.size(); ++i) {
        ASSIGN_OR_RETURN(Value v, Eval(*s.exprs[i], scope));
        inner->Set(s.targets[i], std::move(v));
      }
      return ExecBody(s.bodies[0], inner, out);
    }
    case Stmt::Kind::kBreak:
      return Flow::kBreak;
    case Stmt::Kind::kContinue:
      return Flow::kContinue;
    case Stmt::Kind::kScope:
      return ExecBody(s.bodies[0], scope, out);
  }
  return absl::InternalError("unknown statement");
}

namespace {

absl::Status Unpack(const std::vector<std::string>& targets, const Value& v, Scope* scope) {
  if (targets.size() == 1) {
    scope->Set(targets[0], v);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(ValueList items, Iterate(v));
  if (v.is_undefined() || v.is_dict()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot unpack a ", v.TypeName()));
  }
  if (items.size() != targets.size()) {
    return absl::InvalidArgumentError(
        items.size() > targets.size()
            ? absl::StrCat("too many values to unpack (expected ", targets.size(), ")")
            : absl::StrCat("not enough values to unpack (expected ", targets.size(), ", got ",
                           items.size(), ")"));
  }
  for (size_t i = 0; i < targets.size(); ++i) scope->Set(targets[i], items[i]);
  return absl::OkStatus();
}

}  // namespace

absl::Status Interpreter::Assign(const Stmt& s, const ScopePtr& scope, Value value) {
  if (!s.attr.empty()) {
    Value ns = Lookup(s.targets[0], scope);
    if (!ns.is_namespace()) {
      return absl::InvalidArgumentError("cannot assign attribute on non-namespace object");
    }
    ns.ns().attrs.Set(Value(s.attr), std::move(value));
    return absl::OkStatus();
  }
  return Unpack(s.targets, value, scope.get());
}

absl::StatusOr<Interpreter::Flow> Interpreter::ExecFor(const Stmt& s, const ScopePtr& scope,
                                                       std::string* out) {
  ASSIGN_OR_RETURN(Value iterable, Eval(*s.exprs[0], scope));
  ASSIGN_OR_RETURN(ValueList items, Iterate(iterable));
  if (s.exprs[1]) {
    ValueList kept;
    for (Value& item : items) {
      RETURN_IF_ERROR(ChargeIterations(1));
      auto probe = std::make_shared<Scope>();
      probe->parent = scope;
      RETURN_IF_ERROR(Unpack(s.targets, item, probe.get()));
      ASSIGN_OR_RETURN(Value keep, Eval(*s.exprs[1], probe));
      if (keep.Truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    RETURN_IF_ERROR(ExecBody(s.bodies[1], inner, out).status());
    return Flow::kNormal;
  }
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    RETURN_IF_ERROR(ChargeIterations(1));
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    const Value& item = items[static_cast<size_t>(i)];
    Dict loop;
    loop.entries.reserve(12);
    loop.entries.emplace_back(Value("index"), Value(i + 1));
    loop.entries.emplace_back(Value("index0"), Value(i));
    loop.entries.emplace_back(Value("revindex"), Value(n - i));
    loop.entries.emplace_back(Value("revindex0"), Value(n - i - 1));
    loop.entries.emplace_back(Value("first"), Value(i == 0));
    loop.entries.emplace_back(Value("last"), Value(i == n - 1));
    loop.entries.emplace_back(Value("length"), Value(n));
    loop.entries.emplace_back(Value("depth"), Value(int64_t{1}));
    loop.entries.emplace_back(Value("depth0"), Value(int64_t{0}));
    loop.entries.emplace_back(
        Value("previtem"),
        i > 0 ? items[static_cast<size_t>(i - 1)] : Value::Undefined("there is no previous item"));
    loop.entries.emplace_back(Value("nextitem"), i + 1 < n
                                                     ? items[static_cast<size_t>(i + 1)]
                                                     : Value::Undefined("there is no next item"));
    loop.entries.emplace_back(Value("cycle"), Value::FromCallable(std::make_shared<LoopCycle>(i)));
    inner->Set("loop", Value::FromDict(std::move(loop)));
    RETURN_IF_ERROR(Unpack(s.targets, item, inner.get()));
    ASSIGN_OR_RETURN(Flow flow, ExecBody(s.bodies[0], inner, out));
    if (flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

absl::StatusOr<Value> Interpreter::ApplyFilterChain(const Expr& chain, Value operand,
                                                    const ScopePtr& scope) {
  if (chain.args[0]) {
    ASSIGN_OR_RETURN(operand, ApplyFilterChain(*chain.args[0], std::move(operand), scope));
  }
  ASSIGN_OR_RETURN(CallArgs args, EvalArgs(chain, 1, scope));
  return ApplyFilter(*this, chain.name, operand, std::move(args));
}

absl::StatusOr<Value> Interpreter::CallValue(const Value& callee, CallArgs args) {
  if (callee.is_undefined()) return UndefinedError(callee);
  if (!callee.is_callable()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", callee.TypeName(), "' object is not callable"));
  }
  return callee.callable().Call(*this, std::move(args));
}

absl::StatusOr<Value> Interpreter::InvokeMacro(const Stmt& def,
                                               const std::vector<const Expr*>& defaults,
                                               const ScopePtr& closure, const Value& caller,
                                               CallArgs args) {
  const std::string name = def.kind == Stmt::Kind::kMacro ? def.name : "caller";
  if (++depth_ > options_.max_depth) {
    --depth_;
    return absl::ResourceExhaustedError(
        absl::StrCat("macro calls nested deeper than the limit of ", options_.max_depth));
  }
  struct Release {
    int* d;
    ~Release() { --*d; }
  } release{&depth_};
  const std::vector<std::string>& params = def.targets;
  if (args.positional.size() > params.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("macro '", name, "' takes not more than ", params.size(), " argument(s)"));
  }
  auto scope = std::make_shared<Scope>();
  scope->parent = closure;
  std::vector<bool> bound(params.size(), false);
  for (size_t i = 0; i < args.positional.size(); ++i) {
    scope->Set(params[i], std::move(args.positional[i]));
    bound[i] = true;
  }
  for (auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < params.size() && params[i] != key) ++i;
    if (i == params.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("macro '", name, "' takes no keyword argument '", key, "'"));
    }
    if (bound[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat("macro '", name, "' got multiple values for argument '", key, "'"));
    }
    scope->Set(params[i], std::move(value));
    bound[i] = true;
  }
  const size_t first_default = params.size() - defaults.size();
  for (size_t i = 0; i < params.size(); ++i) {
    if (bound[i]) continue;
    if (i >= first_default) {
      ASSIGN_OR_RETURN(Value v, Eval(*defaults[i - first_default], scope));
      scope->Set(params[i], std::move(v));
    } else {
      scope->Set(params[i],
                 Value::Undefined(absl::StrCat("parameter '", params[i], "' was not provided")));
    }
  }
  if (!caller.is_undefined()) scope->Set("caller", caller);
  std::string text;
  RETURN_IF_ERROR(ExecBody(def.bodies[0], scope, &text).status());
  return Value(std::move(text));
}

absl::StatusOr<CallArgs> Interpreter::EvalArgs(const Expr& e, size_t first_arg,
                                               const ScopePtr& scope) {
  CallArgs args;
  for (size_t i = first_arg; i < e.args.size(); ++i) {
    ASSIGN_OR_RETURN(Value v, Eval(*e.args[i], scope));
    args.positional.push_back(std::move(v));
  }
  for (const auto& [key, expr] : e.kwargs) {
    ASSIGN_OR_RETURN(Value v, Eval(*expr, scope));
    args.keyword.emplace_back(key, std::move(v));
  }
  return args;
}

absl::StatusOr<Value> Interpreter::Eval(const Expr& e, const ScopePtr& scope) {
  if (++depth_ > options_.max_depth * 4) {
    --depth_;
    return absl::ResourceExhaustedError("expression nested too deeply");
  }
  absl::StatusOr<Value> v = EvalInner(e, scope);
  --depth_;
  return v;
}

absl::StatusOr<Value> Interpreter::EvalInner(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.value;
    case Expr::Kind::kName:
      return Lookup(e.name, scope);
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      ValueList items;
      items.reserve(e.args.size());
      for (const ExprPtr& a : e.args) {
        ASSIGN_OR_RETURN(Value v, Eval(*a, scope));
        items.push_back(std::move(v));
      }
      return e.kind == Expr::Kind::kList ? Value::List(std::move(items))
                                         : Value::Tuple(std::move(items));
    }
    case Expr::Kind::kDict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        ASSIGN_OR_RETURN(Value k, Eval(*e.args[i], scope));
        ASSIGN_OR_RETURN(Value v, Eval(*e.args[i + 1], scope));
        if (k.is_list() || k.is_dict() || k.is_undefined() || k.is_iterator()) {
          return absl::InvalidArgumentError(absl::StrCat("unhashable type: '", k.TypeName(), "'"));
        }
        d.Set(std::move(k), std::move(v));
      }
      return Value::FromDict(std::move(d));
    }
    case Expr::Kind::kGetattr: {
      ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0], scope));
      if (obj.is_undefined()) return UndefinedError(obj);
      return GetAttr(obj, e.name);
    }
    case Expr::Kind::kGetitem: {
      ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0], scope));
      if (obj.is_undefined()) return UndefinedError(obj);
      const Expr& key = *e.args[1];
      if (key.kind == Expr::Kind::kSlice) {
        Value bounds[3];
        for (int i = 0; i < 3; ++i) {
          if (key.args[static_cast<size_t>(i)]) {
            ASSIGN_OR_RETURN(bounds[i], Eval(*key.args[static_cast<size_t>(i)], scope));
          } else {
            bounds[i] = Value::None();
          }
        }
        return GetSlice(obj, bounds[0], bounds[1], bounds[2]);
      }
      ASSIGN_OR_RETURN(Value k, Eval(key, scope));
      return GetItem(obj, k);
    }
    case Expr::Kind::kSlice:
      return absl::InvalidArgumentError("a slice is only valid inside []");
    case Expr::Kind::kCall: {
      ASSIGN_OR_RETURN(Value callee, Eval(*e.args[0], scope));
      ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1, scope));
      return CallValue(callee, std::move(args));
    }
    case Expr::Kind::kFilter: {
      if (!e.args[0]) return absl::InternalError("filter without operand");
      ASSIGN_OR_RETURN(Value operand, Eval(*e.args[0], scope));
      ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1, scope));
      return ApplyFilter(*this, e.name, operand, std::move(args));
    }
    case Expr::Kind::kTest: {
      ASSIGN_OR_RETURN(Value operand, Eval(*e.args[0], scope));
      ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1, scope));
      ASSIGN_OR_RETURN(bool result, ApplyTest(*this, e.name, operand, std::move(args)));
      return Value(result);
    }
    case Expr::Kind::kUnary: {
      ASSIGN_OR_RETURN(Value v, Eval(*e.args[0], scope));
      if (e.name == "not") return Value(!v.Truthy());
      if (v.is_undefined()) return UndefinedError(v);
      if (!v.is_number()) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad operand type for unary ", e.name, ": '", v.TypeName(), "'"));
      }
      if (e.name == "+") return v.is_bool() ? Value(v.as_int()) : v;
      if (v.is_float()) return Value(-v.as_float());
      if (v.as_int() == std::numeric_limits<int64_t>::min()) {
        return absl::OutOfRangeError("integer overflow");
      }
      return Value(-v.as_int());
    }
    case Expr::Kind::kBinary: {
      ASSIGN_OR_RETURN(Value a, Eval(*e.args[0], scope));
      if (e.name == "and") {
        if (!a.Truthy()) return a;
        return Eval(*e.args[1], scope);
      }
      if (e.name == "or") {
        if (a.Truthy()) return a;
        return Eval(*e.args[1], scope);
      }
      ASSIGN_OR_RETURN(Value b, Eval(*e.args[1], scope));
      return BinaryOp(*this, e.name, a, b);
    }
    case Expr::Kind::kCompare: {
      ASSIGN_OR_RETURN(Value left, Eval(*e.args[0], scope));
      for (size_t i = 0; i < e.ops.size(); ++i) {
        ASSIGN_OR_RETURN(Value right, Eval(*e.args[i + 1], scope));
        ASSIGN_OR_RETURN(bool ok, Compare(e.ops[i], left, right));
        if (!ok) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case Expr::Kind::kCondition: {
      ASSIGN_OR_RETURN(Value cond, Eval(*e.args[0], scope));
      if (cond.Truthy()) return Eval(*e.args[1], scope);
      if (e.args[2]) return Eval(*e.args[2], scope);
      return Value::Undefined("the inline if-expression evaluated to false and had no else");
    }
  }
  return absl::InternalError("unknown expression");
}

}  // namespace moeserve::jinja
