// Template (see template.h).
#include "router/template/template.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "router/template/builtins.h"
#include "router/template/interpreter.h"
#include "router/template/lexer.h"
#include "router/template/parser.h"

namespace moeserve::jinja {
namespace {

// Jinja2 resolves filter and test names when it compiles a template; so do we.
absl::Status CheckNames(const Expr* e) {
  if (e == nullptr) return absl::OkStatus();
  if (e->kind == Expr::Kind::kFilter && !IsKnownFilter(e->name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "template error at line ", e->line, ": no filter named '", e->name, "' (not supported)"));
  }
  if (e->kind == Expr::Kind::kTest && !IsKnownTest(e->name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "template error at line ", e->line, ": no test named '", e->name, "' (not supported)"));
  }
  for (const ExprPtr& a : e->args) RETURN_IF_ERROR(CheckNames(a.get()));
  for (const auto& [k, a] : e->kwargs) RETURN_IF_ERROR(CheckNames(a.get()));
  return absl::OkStatus();
}

absl::Status CheckNames(const Body& body) {
  for (const StmtPtr& s : body) {
    for (const ExprPtr& e : s->exprs) RETURN_IF_ERROR(CheckNames(e.get()));
    for (const Body& b : s->bodies) RETURN_IF_ERROR(CheckNames(b));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Template> Template::Parse(absl::string_view source, const TemplateOptions& options) {
  LexerOptions lexer_options;
  lexer_options.trim_blocks = options.trim_blocks;
  lexer_options.lstrip_blocks = options.lstrip_blocks;
  ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(source, lexer_options));
  ParserOptions parser_options;
  parser_options.max_depth = options.max_depth;
  ASSIGN_OR_RETURN(Body body, jinja::Parse(tokens, parser_options));
  RETURN_IF_ERROR(CheckNames(body));
  return Template(std::make_shared<const Body>(std::move(body)), options);
}

absl::StatusOr<std::string> Template::Render(const Dict& variables,
                                             const RenderOptions& render_options) const {
  Interpreter interp(options_, render_options);
  std::string out;
  RETURN_IF_ERROR(interp.Render(*body_, variables, &out));
  return out;
}

}  // namespace moeserve::jinja
