// Helpers shared by builtins.cc and filters.cc (internal to the template library).
#ifndef MOESERVE_ROUTER_TEMPLATE_BUILTINS_INTERNAL_H_
#define MOESERVE_ROUTER_TEMPLATE_BUILTINS_INTERNAL_H_

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "router/template/interpreter.h"
#include "router/template/value.h"

namespace moeserve::jinja::internal {

absl::Status TypeError(absl::string_view msg);
absl::Status UndefinedError(const Value& v);
// str(v), failing for values whose str() is a memory address.
absl::StatusOr<std::string> ToStr(const Value& v);
// Binds arguments to parameter names as Python does; unbound parameters stay nullopt.
absl::StatusOr<std::vector<std::optional<Value>>> Bind(
    absl::string_view fn, CallArgs args, std::initializer_list<absl::string_view> names);
inline bool IsNone(const std::optional<Value>& v) { return !v || v->is_none(); }
absl::StatusOr<int64_t> ToIndex(const Value& v, absl::string_view what);
absl::StatusOr<std::string> ToStringArg(const Value& v, absl::string_view what);
// Stable sort of (key, item) pairs by key with Python's `<`.
absl::Status SortValues(std::vector<std::pair<Value, Value>>* keyed, bool reverse);
// Jinja's ignore_case postprocessor: lower-cases strings unless case_sensitive.
Value IgnoreCase(const Value& v, bool case_sensitive);
// Python getattr(obj, name) under the sandbox, without Jinja's item fallback.
absl::StatusOr<std::optional<Value>> PyGetAttr(const Value& obj, const std::string& name);

// Calls method `name` of a str, dict, list or tuple (methods.cc).
absl::StatusOr<Value> CallMethod(Interpreter& interp, const Value& self, const std::string& name,
                                 CallArgs args);

}  // namespace moeserve::jinja::internal

#endif  // MOESERVE_ROUTER_TEMPLATE_BUILTINS_INTERNAL_H_
