// Builtins of the template language (internal): operators, attribute and item access, filters,
// tests, Python string/dict/list methods, and the globals Hugging Face defines.
//
// Each follows the Python or Jinja2 function of the same name; where Python would answer with
// something the engine cannot reproduce byte for byte (an object address, an arbitrary-precision
// integer), the builtin fails instead. Stateless; the Interpreter passed in carries the limits.
#ifndef MOESERVE_ROUTER_TEMPLATE_BUILTINS_H_
#define MOESERVE_ROUTER_TEMPLATE_BUILTINS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "router/template/interpreter.h"
#include "router/template/value.h"

namespace moeserve::jinja {

// The global functions: range, namespace, dict, raise_exception, strftime_now.
std::optional<Value> LookupGlobal(const std::string& name);

bool IsKnownFilter(const std::string& name);
bool IsKnownTest(const std::string& name);
absl::StatusOr<Value> ApplyFilter(Interpreter& interp, const std::string& name,
                                  const Value& operand, CallArgs args);
absl::StatusOr<bool> ApplyTest(Interpreter& interp, const std::string& name, const Value& operand,
                               CallArgs args);

// `obj.name` (attribute first, then item, as Jinja's getattr does) and `obj[key]` (item first).
absl::StatusOr<Value> GetAttr(const Value& obj, const std::string& name);
absl::StatusOr<Value> GetItem(const Value& obj, const Value& key);
// `obj[start:stop:step]`; unset bounds are undefined or none.
absl::StatusOr<Value> GetSlice(const Value& obj, const Value& start, const Value& stop,
                               const Value& step);

// Arithmetic and concatenation: + - * / // % ** ~.
absl::StatusOr<Value> BinaryOp(Interpreter& interp, const std::string& op, const Value& a,
                               const Value& b);
// Comparisons: == != < <= > >= in notin.
absl::StatusOr<bool> Compare(const std::string& op, const Value& a, const Value& b);
// Python iteration: lists, tuples and iterators by item, dicts by key, strings by code point,
// undefined as empty.
absl::StatusOr<ValueList> Iterate(const Value& v);

}  // namespace moeserve::jinja

#endif  // MOESERVE_ROUTER_TEMPLATE_BUILTINS_H_
