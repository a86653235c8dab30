// The syntax tree the parser builds and the interpreter walks.
//
// Two node families, expressions (Expr) and statements (Stmt), each one struct with a kind and
// the fields that kind uses (listed per kind below) rather than a class per node: the tree is
// small, built once per template, then read-only, so it may be shared across threads.
#ifndef MOESERVE_ROUTER_TEMPLATE_AST_H_
#define MOESERVE_ROUTER_TEMPLATE_AST_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "router/template/value.h"

namespace moeserve::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Expr {
  enum class Kind {
    kLiteral,    // value
    kName,       // name
    kList,       // args: items
    kTuple,      // args: items
    kDict,       // args: key0, value0, key1, value1, ...
    kGetattr,    // args[0] . name
    kGetitem,    // args[0] [ args[1] ]
    kSlice,      // args[0..2]: start, stop, step (null when omitted)
    kCall,       // args[0] ( args[1..], kwargs )
    kFilter,     // args[0] (null inside {% filter %}) | name ( args[1..], kwargs )
    kTest,       // args[0] is name ( args[1..], kwargs )
    kUnary,      // name: "-", "+" or "not"; args[0]
    kBinary,     // name: "+", "-", "*", "/", "//", "%", "**", "~", "and", "or"; args[0], args[1]
    kCompare,    // args[0] ops[i] args[i+1]; ops: "==", "!=", "<", "<=", ">", ">=", "in", "notin"
    kCondition,  // args[1] if args[0] else args[2] (args[2] null when omitted)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
};

struct Stmt {
  enum class Kind {
    kData,         // text
    kPrint,        // exprs[0]
    kIf,           // exprs: conditions; bodies[i] per condition, then the else body
    kFor,          // targets; exprs[0] iterable, exprs[1] filter (may be null); bodies: body, else
    kSet,          // targets (or targets[0] "." attr); exprs[0]
    kSetBlock,     // targets (or targets[0] "." attr); exprs[0] filter chain (may be null);
                   // bodies[0]
    kMacro,        // name; targets: parameters; exprs: defaults of the last parameters; bodies[0]
    kCallBlock,    // targets: caller parameters; exprs: [call, defaults...]; bodies[0]
    kFilterBlock,  // exprs[0] filter chain over a null operand; bodies[0]
    kWith,         // targets; exprs: values; bodies[0]
    kBreak,
    kContinue,
    kScope,  // bodies[0]: a plain body (Hugging Face's {% generation %})
  };
  Kind kind;
  int line = 0;
  std::string text;
  std::string name;
  std::string attr;
  std::vector<std::string> targets;
  std::vector<ExprPtr> exprs;
  std::vector<Body> bodies;
};

}  // namespace moeserve::jinja

#endif  // MOESERVE_ROUTER_TEMPLATE_AST_H_
