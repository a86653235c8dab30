// Lexer: template source → tokens, with Jinja2's whitespace rules.
//
// Mirrors jinja2/lexer.py for the default delimiters: `{{ }}`, `{% %}`, `{# #}`, `{% raw %}`,
// the `-`/`+` whitespace-control markers, and the environment options Hugging Face sets
// (trim_blocks: drop the first newline after a block or comment tag; lstrip_blocks: drop
// spaces and tabs before a block or comment tag that starts a line). Newlines are normalized to
// "\n" and one trailing newline is dropped (keep_trailing_newline=False). Stateless; thread-safe.
#ifndef MOESERVE_ROUTER_TEMPLATE_LEXER_H_
#define MOESERVE_ROUTER_TEMPLATE_LEXER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace moeserve::jinja {

struct Token {
  enum class Type {
    kData,
    kVariableBegin,
    kVariableEnd,
    kBlockBegin,
    kBlockEnd,
    kName,
    kString,
    kInteger,
    kFloat,
    kOperator,
    kEof,
  };
  Type type;
  // kData: the text; kName: the identifier; kString: the unescaped value; kInteger/kFloat: the
  // literal without '_'; kOperator: the operator text.
  std::string value;
  int line = 1;
};

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Splits `source` into tokens ending with kEof, or fails with the line of the problem.
absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view source, const LexerOptions& options);

}  // namespace moeserve::jinja

#endif  // MOESERVE_ROUTER_TEMPLATE_LEXER_H_
