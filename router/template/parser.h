// Parser: tokens → syntax tree, following jinja2/parser.py's grammar and precedence.
//
// Statements: if/elif/else, for (tuple targets, inline `if` filter, else), set (names, tuples,
// namespace attributes, block form with filters), macro, call, filter, with, print, break and
// continue (the loopcontrols extension) and Hugging Face's `generation` tag. Template
// inheritance and inclusion (extends, block, include, import, from), recursive loops, `*args`
// and `**kwargs` in calls are rejected with an error naming the construct and line.
// Stateless; thread-safe.
#ifndef MOESERVE_ROUTER_TEMPLATE_PARSER_H_
#define MOESERVE_ROUTER_TEMPLATE_PARSER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "router/template/ast.h"
#include "router/template/lexer.h"

namespace moeserve::jinja {

struct ParserOptions {
  // Deepest nesting of expressions and blocks accepted; deeper input is an error, not a crash.
  int max_depth = 200;
};

absl::StatusOr<Body> Parse(const std::vector<Token>& tokens, const ParserOptions& options);

}  // namespace moeserve::jinja

#endif  // MOESERVE_ROUTER_TEMPLATE_PARSER_H_
