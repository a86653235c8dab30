// Value: the data model of the template engine, shaped after the Python objects Jinja2 sees.
//
// A Value is one of: undefined (Jinja's Undefined: falsy, prints as '', iterates as empty,
// `is defined` false), none, bool, int (64-bit), float, string (UTF-8), list, tuple, dict
// (insertion ordered, like a Python dict), iterator (what Jinja's map/select/unique/... filters
// return: a generator, always truthy, with no len() and no printable form), namespace (the only
// mutable kind, shared by reference) and callable (macros, builtins, bound methods). Lists, tuples
// and dicts are immutable and shared, so copying a Value is cheap. Values are not thread-safe when
// they hold a namespace; everything else may be read from many threads.
//
// Conversions follow Python: Str() is str(), Repr() is repr(), Truthy() is bool(), Equals()
// is ==, and DumpJson() is json.dumps() with the arguments Hugging Face's tojson passes.
#ifndef MOESERVE_ROUTER_TEMPLATE_VALUE_H_
#define MOESERVE_ROUTER_TEMPLATE_VALUE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace moeserve::jinja {

class Value;
class Callable;
struct Dict;
struct Namespace;

using ValueList = std::vector<Value>;

class Value {
 public:
  enum class Kind {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kTuple,
    kDict,
    kNamespace,
    kCallable,
    kIterator,
  };

  // An undefined value; `hint` names what was looked up, for error messages.
  Value() = default;
  static Value Undefined(std::string hint);
  static Value None();
  explicit Value(bool b);
  explicit Value(int64_t i);
  explicit Value(int i) : Value(static_cast<int64_t>(i)) {}
  explicit Value(double f);
  explicit Value(std::string s);
  explicit Value(const char* s) : Value(std::string(s)) {}
  static Value List(ValueList items);
  static Value Tuple(ValueList items);
  static Value Iterator(ValueList items);
  // What dict.items()/keys()/values() return: a list that prints as Python's view does,
  // e.g. "dict_items([('a', 1)])". `view` is "dict_items", "dict_keys" or "dict_values".
  static Value DictView(std::string view, ValueList items);
  static Value FromDict(Dict dict);
  static Value FromNamespace(std::shared_ptr<Namespace> ns);
  static Value FromCallable(std::shared_ptr<const Callable> fn);
  // Converts JSON (keys keep their order). Integers beyond int64 become floats.
  static Value FromJson(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  // int, float or bool (a bool is an int in Python arithmetic).
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const { return kind_ == Kind::kTuple; }
  bool is_sequence() const { return is_list() || is_tuple(); }
  bool is_iterator() const { return kind_ == Kind::kIterator; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return is_bool() ? (bool_ ? 1 : 0) : int_; }
  double as_float() const { return is_float() ? float_ : static_cast<double>(as_int()); }
  const std::string& as_string() const { return *string_; }
  // Valid for lists, tuples and iterators.
  const ValueList& items() const { return *list_; }
  const Dict& dict() const { return *dict_; }
  Namespace& ns() const { return *ns_; }
  const Callable& callable() const { return *callable_; }
  // What an undefined value stands for ("message.content"), or "".
  const std::string& undefined_hint() const;

  // Python bool(x).
  bool Truthy() const;
  // Python type name, for error messages ("str", "int", "dict", ...).
  std::string TypeName() const;

 private:
  friend std::string Repr(const Value& v);

  Kind kind_ = Kind::kUndefined;
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  std::shared_ptr<const std::string> string_;  // The text; an undefined's hint; a view's name.
  std::shared_ptr<const ValueList> list_;
  std::shared_ptr<const Dict> dict_;
  std::shared_ptr<Namespace> ns_;
  std::shared_ptr<const Callable> callable_;
};

// An insertion-ordered mapping. Keys are Values compared with Python ==; lookups are linear,
// which suits the small dicts of chat messages and tool schemas.
struct Dict {
  std::vector<std::pair<Value, Value>> entries;

  const Value* Find(const Value& key) const;
  const Value* Find(const std::string& key) const;
  // Inserts or replaces, keeping the first insertion's position (Python semantics).
  void Set(Value key, Value value);
};

// Jinja's namespace(): attributes assignable with `{% set ns.attr = ... %}`.
struct Namespace {
  Dict attrs;
};

class Interpreter;

// Positional and keyword arguments of a call.
struct CallArgs {
  ValueList positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Anything a template can call.
class Callable {
 public:
  virtual ~Callable() = default;
  virtual std::string Name() const = 0;
  virtual absl::StatusOr<Value> Call(Interpreter& interp, CallArgs args) const = 0;
};

// Python str(v). Undefined gives ''.
std::string Str(const Value& v);
// Python repr(v).
std::string Repr(const Value& v);
// Python v1 == v2 (Jinja: undefined equals only undefined).
bool Equals(const Value& a, const Value& b);
// Python a < b; an error when the types do not order (e.g. str < int).
absl::StatusOr<bool> Less(const Value& a, const Value& b);

struct JsonOptions {
  bool ensure_ascii = false;
  // No indent when unset; an int indent is that many spaces; a string indent is used as is.
  std::optional<std::string> indent;
  // Python's defaults: (', ', ': ') without indent, (',', ': ') with indent.
  std::optional<std::string> item_separator;
  std::optional<std::string> key_separator;
  bool sort_keys = false;
};
// Python json.dumps(v, ...). Fails for values JSON cannot hold (undefined, callables).
absl::StatusOr<std::string> DumpJson(const Value& v, const JsonOptions& options);

}  // namespace moeserve::jinja

#endif  // MOESERVE_ROUTER_TEMPLATE_VALUE_H_
