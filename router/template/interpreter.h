// Interpreter: walks a syntax tree and renders it (internal to the template library).
//
// One Interpreter serves one render: it owns the scopes, the output limits and the iteration
// budget, so it is used from a single thread and then dropped. Builtin filters, tests, methods
// and globals (builtins.h) call back into it to invoke callables and charge the limits.
#ifndef MOESERVE_ROUTER_TEMPLATE_INTERPRETER_H_
#define MOESERVE_ROUTER_TEMPLATE_INTERPRETER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "router/template/ast.h"
#include "router/template/template.h"
#include "router/template/value.h"

namespace moeserve::jinja {

// Variables of one frame (template top level, one loop iteration, one macro call, ...).
struct Scope {
  std::shared_ptr<Scope> parent;
  std::vector<std::pair<std::string, Value>> vars;

  const Value* Find(const std::string& name) const;
  void Set(const std::string& name, Value value);
};
using ScopePtr = std::shared_ptr<Scope>;

class Interpreter {
 public:
  Interpreter(const TemplateOptions& options, const RenderOptions& render_options)
      : options_(options), render_options_(render_options) {}
  // Breaks the reference cycles a render can build (a macro stored in the scope it closes
  // over, a namespace holding itself), which would otherwise leak.
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  absl::Status Render(const Body& body, const Dict& variables, std::string* out);

  // Calls a callable value (macro, caller, builtin, bound method).
  absl::StatusOr<Value> CallValue(const Value& callee, CallArgs args);
  // Renders a macro or caller body with its parameters bound.
  absl::StatusOr<Value> InvokeMacro(const Stmt& def, const std::vector<const Expr*>& defaults,
                                    const ScopePtr& closure, const Value& caller, CallArgs args);

  // Fails when a string of `bytes` would exceed the output limit.
  absl::Status CheckSize(size_t bytes) const;
  // Charges `n` loop iterations against the budget.
  absl::Status ChargeIterations(int64_t n);
  const RenderOptions& render_options() const { return render_options_; }
  // Registers a namespace created by this render, so that its cycles are broken at the end.
  void TrackNamespace(const std::shared_ptr<Namespace>& ns) { namespaces_.push_back(ns); }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  absl::StatusOr<Flow> ExecBody(const Body& body, const ScopePtr& scope, std::string* out);
  absl::StatusOr<Flow> Exec(const Stmt& s, const ScopePtr& scope, std::string* out);
  absl::StatusOr<Flow> ExecFor(const Stmt& s, const ScopePtr& scope, std::string* out);
  absl::Status Assign(const Stmt& s, const ScopePtr& scope, Value value);
  absl::StatusOr<Value> ApplyFilterChain(const Expr& chain, Value operand, const ScopePtr& scope);

  absl::StatusOr<Value> Eval(const Expr& e, const ScopePtr& scope);
  absl::StatusOr<Value> EvalInner(const Expr& e, const ScopePtr& scope);
  absl::StatusOr<CallArgs> EvalArgs(const Expr& e, size_t first_arg, const ScopePtr& scope);
  Value Lookup(const std::string& name, const ScopePtr& scope) const;

  const TemplateOptions& options_;
  const RenderOptions& render_options_;
  int depth_ = 0;
  int64_t iterations_ = 0;
  // Scopes captured by macros and callers, and namespaces: possible members of cycles.
  std::vector<std::weak_ptr<Scope>> closures_;
  std::vector<std::weak_ptr<Namespace>> namespaces_;
};

// Marks `status` as raised by the template itself (raise_exception), so that it keeps its
// message verbatim instead of gaining a line prefix.
absl::Status UserError(absl::string_view message);

}  // namespace moeserve::jinja

#endif  // MOESERVE_ROUTER_TEMPLATE_INTERPRETER_H_
