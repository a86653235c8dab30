// Parser (see parser.h). Method names follow jinja2/parser.py so the two can be read side by side.
#include "router/template/parser.h"

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status.h"

namespace moeserve::jinja {
namespace {

using Type = Token::Type;

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const ParserOptions& options)
      : toks_(tokens), opt_(options) {}

  absl::StatusOr<Body> ParseTemplate() {
    Body body;
    RETURN_IF_ERROR(Subparse({}, &body));
    if (Cur().type != Type::kEof) return Fail("unexpected tokens after the template");
    return body;
  }

 private:
  // ---- Token stream --------------------------------------------------------------------------
  const Token& Cur() const { return toks_[pos_]; }
  const Token& Look() const { return toks_[std::min(pos_ + 1, toks_.size() - 1)]; }
  void Next() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool IsOp(absl::string_view op) const {
    return Cur().type == Type::kOperator && Cur().value == op;
  }
  bool IsName(absl::string_view name) const {
    return Cur().type == Type::kName && Cur().value == name;
  }
  bool SkipOp(absl::string_view op) {
    if (!IsOp(op)) return false;
    Next();
    return true;
  }
  bool SkipName(absl::string_view name) {
    if (!IsName(name)) return false;
    Next();
    return true;
  }

  static std::string Describe(const Token& t) {
    switch (t.type) {
      case Type::kEof:
        return "end of template";
      case Type::kBlockEnd:
        return "end of statement block";
      case Type::kVariableEnd:
        return "end of print statement";
      case Type::kBlockBegin:
        return "begin of statement block";
      case Type::kVariableBegin:
        return "begin of print statement";
      case Type::kData:
        return "template data";
      case Type::kString:
        return "string";
      default:
        return absl::StrCat("'", t.value, "'");
    }
  }

  absl::Status Fail(absl::string_view msg, int line = 0) const {
    return absl::InvalidArgumentError(
        absl::StrCat("template syntax error at line ", line ? line : Cur().line, ": ", msg));
  }

  absl::Status ExpectOp(absl::string_view op) {
    if (SkipOp(op)) return absl::OkStatus();
    return Fail(absl::StrCat("expected token '", op, "', got ", Describe(Cur())));
  }
  absl::Status Expect(Type type, absl::string_view what) {
    if (Cur().type == type) {
      Next();
      return absl::OkStatus();
    }
    if (Cur().type == Type::kEof) {
      return Fail(absl::StrCat("unexpected end of template, expected ", what));
    }
    return Fail(absl::StrCat("expected ", what, ", got ", Describe(Cur())));
  }
  absl::StatusOr<std::string> ExpectName() {
    if (Cur().type != Type::kName) {
      return Fail(absl::StrCat("expected a name, got ", Describe(Cur())));
    }
    std::string name = Cur().value;
    Next();
    return name;
  }

  // Bounds recursion so deeply nested input fails cleanly instead of exhausting the stack.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser* p) : p_(p) { ++p_->depth_; }
    ~DepthGuard() { --p_->depth_; }
    absl::Status Check() const {
      if (p_->depth_ > p_->opt_.max_depth) {
        return p_->Fail(absl::StrCat("nesting deeper than the limit of ", p_->opt_.max_depth));
      }
      return absl::OkStatus();
    }

   private:
    Parser* p_;
  };

  static ExprPtr MakeExpr(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }
  static StmtPtr MakeStmt(Stmt::Kind kind, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = line;
    return s;
  }

  // ---- Statements ----------------------------------------------------------------------------

  // Parses until a block whose tag is one of `end_tokens` (left as the current token).
  absl::Status Subparse(std::initializer_list<const char*> end_tokens, Body* body) {
    DepthGuard guard(this);
    RETURN_IF_ERROR(guard.Check());
    while (Cur().type != Type::kEof) {
      const Token& t = Cur();
      if (t.type == Type::kData) {
        StmtPtr s = MakeStmt(Stmt::Kind::kData, t.line);
        s->text = t.value;
        body->push_back(std::move(s));
        Next();
      } else if (t.type == Type::kVariableBegin) {
        Next();
        StmtPtr s = MakeStmt(Stmt::Kind::kPrint, Cur().line);
        ASSIGN_OR_RETURN(ExprPtr e, ParseTuple(false, true, {}, false));
        s->exprs.push_back(std::move(e));
        body->push_back(std::move(s));
        RETURN_IF_ERROR(Expect(Type::kVariableEnd, "end of print statement"));
      } else if (t.type == Type::kBlockBegin) {
        Next();
        for (const char* end : end_tokens) {
          if (IsName(end)) return absl::OkStatus();
        }
        RETURN_IF_ERROR(ParseStatement(body));
        RETURN_IF_ERROR(Expect(Type::kBlockEnd, "end of statement block"));
      } else {
        return Fail(absl::StrCat("unexpected ", Describe(t)));
      }
    }
    if (end_tokens.size() != 0) {
      std::vector<std::string> names;
      for (const char* e : end_tokens) names.push_back(absl::StrCat("'", e, "'"));
      return Fail(absl::StrCat("unexpected end of template: looking for ",
                               absl::StrJoin(names, " or "), " to close the '", open_tags_.back(),
                               "' block"));
    }
    return absl::OkStatus();
  }

  // `[:] %}` body, up to one of `end_tokens`; with `drop_needle` the end tag name is consumed.
  absl::Status ParseStatements(std::initializer_list<const char*> end_tokens, bool drop_needle,
                               Body* body) {
    SkipOp(":");
    RETURN_IF_ERROR(Expect(Type::kBlockEnd, "end of statement block"));
    RETURN_IF_ERROR(Subparse(end_tokens, body));
    if (drop_needle) Next();
    return absl::OkStatus();
  }

  absl::Status ParseStatement(Body* body) {
    if (Cur().type != Type::kName) return Fail("tag name expected");
    std::string tag = Cur().value;
    int line = Cur().line;
    open_tags_.push_back(tag);
    absl::Status s = ParseStatementInner(tag, line, body);
    open_tags_.pop_back();
    return s;
  }

  absl::Status ParseStatementInner(const std::string& tag, int line, Body* body) {
    if (tag == "if") return ParseIf(body);
    if (tag == "for") return ParseFor(body);
    if (tag == "set") return ParseSet(body);
    if (tag == "macro") return ParseMacro(body);
    if (tag == "call") return ParseCallBlock(body);
    if (tag == "filter") return ParseFilterBlock(body);
    if (tag == "with") return ParseWith(body);
    if (tag == "print") return ParsePrint(body);
    if (tag == "generation") {
      Next();
      StmtPtr s = MakeStmt(Stmt::Kind::kScope, line);
      s->bodies.emplace_back();
      RETURN_IF_ERROR(ParseStatements({"endgeneration"}, true, &s->bodies[0]));
      body->push_back(std::move(s));
      return absl::OkStatus();
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) return Fail(absl::StrCat("'", tag, "' outside of a for loop"));
      Next();
      body->push_back(MakeStmt(tag == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue, line));
      return absl::OkStatus();
    }
    static const char* const kUnsupported[] = {"extends", "block", "include",
                                               "import",  "from",  "autoescape"};
    for (const char* u : kUnsupported) {
      if (tag == u) return Fail(absl::StrCat("the '", tag, "' tag is not supported"), line);
    }
    return Fail(absl::StrCat("encountered unknown tag '", tag, "'"), line);
  }

  absl::Status ParseIf(Body* body) {
    StmtPtr s = MakeStmt(Stmt::Kind::kIf, Cur().line);
    Next();
    while (true) {
      ASSIGN_OR_RETURN(ExprPtr cond, ParseTuple(false, false, {}, false));
      s->exprs.push_back(std::move(cond));
      s->bodies.emplace_back();
      RETURN_IF_ERROR(ParseStatements({"elif", "else", "endif"}, false, &s->bodies.back()));
      std::string end = Cur().value;
      Next();
      if (end == "elif") continue;
      if (end == "else") {
        s->bodies.emplace_back();
        RETURN_IF_ERROR(ParseStatements({"endif"}, true, &s->bodies.back()));
      }
      break;
    }
    body->push_back(std::move(s));
    return absl::OkStatus();
  }

  // Names of an assignment target: `a`, `a, b`, `(a, b)`.
  absl::Status ParseTargetNames(std::initializer_list<const char*> extra_end,
                                std::vector<std::string>* names) {
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr target, ParseTuple(true, true, extra_end, false));
    auto add = [&](const Expr& e) -> absl::Status {
      if (e.kind != Expr::Kind::kName) return Fail("can only assign to names", line);
      names->push_back(e.name);
      return absl::OkStatus();
    };
    if (target->kind == Expr::Kind::kTuple) {
      for (const ExprPtr& e : target->args) RETURN_IF_ERROR(add(*e));
      return absl::OkStatus();
    }
    return add(*target);
  }

  absl::Status ParseFor(Body* body) {
    StmtPtr s = MakeStmt(Stmt::Kind::kFor, Cur().line);
    Next();
    RETURN_IF_ERROR(ParseTargetNames({"in"}, &s->targets));
    if (!SkipName("in")) return Fail(absl::StrCat("expected 'in', got ", Describe(Cur())));
    ASSIGN_OR_RETURN(ExprPtr iter, ParseTuple(false, false, {"recursive"}, false));
    s->exprs.push_back(std::move(iter));
    ExprPtr test;
    if (SkipName("if")) {
      ASSIGN_OR_RETURN(test, ParseExpression(true));
    }
    s->exprs.push_back(std::move(test));
    if (IsName("recursive")) return Fail("recursive for loops are not supported");
    s->bodies.resize(2);
    ++loop_depth_;
    absl::Status st = ParseStatements({"endfor", "else"}, false, &s->bodies[0]);
    --loop_depth_;
    RETURN_IF_ERROR(st);
    std::string end = Cur().value;
    Next();
    if (end == "else") RETURN_IF_ERROR(ParseStatements({"endfor"}, true, &s->bodies[1]));
    body->push_back(std::move(s));
    return absl::OkStatus();
  }

  absl::Status ParseSet(Body* body) {
    int line = Cur().line;
    Next();
    StmtPtr s = MakeStmt(Stmt::Kind::kSet, line);
    if (Cur().type == Type::kName && Look().type == Type::kOperator && Look().value == ".") {
      s->targets.push_back(Cur().value);
      Next();
      Next();
      ASSIGN_OR_RETURN(s->attr, ExpectName());
    } else {
      RETURN_IF_ERROR(ParseTargetNames({}, &s->targets));
    }
    if (SkipOp("=")) {
      ASSIGN_OR_RETURN(ExprPtr value, ParseTuple(false, true, {}, false));
      s->exprs.push_back(std::move(value));
    } else {
      s->kind = Stmt::Kind::kSetBlock;
      ASSIGN_OR_RETURN(ExprPtr filter, ParseFilter(nullptr, false));
      s->exprs.push_back(std::move(filter));
      s->bodies.emplace_back();
      RETURN_IF_ERROR(ParseStatements({"endset"}, true, &s->bodies[0]));
    }
    body->push_back(std::move(s));
    return absl::OkStatus();
  }

  absl::Status ParseSignature(Stmt* s) {
    RETURN_IF_ERROR(ExpectOp("("));
    while (!IsOp(")")) {
      if (!s->targets.empty()) RETURN_IF_ERROR(ExpectOp(","));
      ASSIGN_OR_RETURN(std::string name, ExpectName());
      if (SkipOp("=")) {
        ASSIGN_OR_RETURN(ExprPtr def, ParseExpression(true));
        s->exprs.push_back(std::move(def));
      } else if (s->exprs.size() > (s->kind == Stmt::Kind::kCallBlock ? 1u : 0u)) {
        return Fail("non-default argument follows default argument");
      }
      s->targets.push_back(std::move(name));
    }
    return ExpectOp(")");
  }

  absl::Status ParseMacro(Body* body) {
    StmtPtr s = MakeStmt(Stmt::Kind::kMacro, Cur().line);
    Next();
    ASSIGN_OR_RETURN(s->name, ExpectName());
    RETURN_IF_ERROR(ParseSignature(s.get()));
    s->bodies.emplace_back();
    int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    absl::Status st = ParseStatements({"endmacro"}, true, &s->bodies[0]);
    loop_depth_ = saved_loop_depth;
    RETURN_IF_ERROR(st);
    body->push_back(std::move(s));
    return absl::OkStatus();
  }

  absl::Status ParseCallBlock(Body* body) {
    StmtPtr s = MakeStmt(Stmt::Kind::kCallBlock, Cur().line);
    Next();
    s->exprs.push_back(nullptr);  // The call, filled in below.
    if (IsOp("(")) RETURN_IF_ERROR(ParseSignature(s.get()));
    ASSIGN_OR_RETURN(ExprPtr call, ParseExpression(true));
    if (call->kind != Expr::Kind::kCall) return Fail("expected call", s->line);
    s->exprs[0] = std::move(call);
    s->bodies.emplace_back();
    int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    absl::Status st = ParseStatements({"endcall"}, true, &s->bodies[0]);
    loop_depth_ = saved_loop_depth;
    RETURN_IF_ERROR(st);
    body->push_back(std::move(s));
    return absl::OkStatus();
  }

  absl::Status ParseFilterBlock(Body* body) {
    StmtPtr s = MakeStmt(Stmt::Kind::kFilterBlock, Cur().line);
    Next();
    ASSIGN_OR_RETURN(ExprPtr filter, ParseFilter(nullptr, true));
    s->exprs.push_back(std::move(filter));
    s->bodies.emplace_back();
    RETURN_IF_ERROR(ParseStatements({"endfilter"}, true, &s->bodies[0]));
    body->push_back(std::move(s));
    return absl::OkStatus();
  }

  absl::Status ParseWith(Body* body) {
    StmtPtr s = MakeStmt(Stmt::Kind::kWith, Cur().line);
    Next();
    while (Cur().type != Type::kBlockEnd) {
      if (!s->targets.empty()) RETURN_IF_ERROR(ExpectOp(","));
      ASSIGN_OR_RETURN(std::string name, ExpectName());
      RETURN_IF_ERROR(ExpectOp("="));
      ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
      s->targets.push_back(std::move(name));
      s->exprs.push_back(std::move(value));
    }
    s->bodies.emplace_back();
    RETURN_IF_ERROR(ParseStatements({"endwith"}, true, &s->bodies[0]));
    body->push_back(std::move(s));
    return absl::OkStatus();
  }

  absl::Status ParsePrint(Body* body) {
    int line = Cur().line;
    Next();
    bool first = true;
    while (Cur().type != Type::kBlockEnd) {
      if (!first) RETURN_IF_ERROR(ExpectOp(","));
      first = false;
      StmtPtr s = MakeStmt(Stmt::Kind::kPrint, line);
      ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(true));
      s->exprs.push_back(std::move(e));
      body->push_back(std::move(s));
    }
    return absl::OkStatus();
  }

  // ---- Expressions ---------------------------------------------------------------------------

  absl::StatusOr<ExprPtr> ParseExpression(bool with_condexpr) {
    DepthGuard guard(this);
    RETURN_IF_ERROR(guard.Check());
    if (!with_condexpr) return ParseOr();
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr expr1, ParseOr());
    while (SkipName("if")) {
      ASSIGN_OR_RETURN(ExprPtr expr2, ParseOr());
      ExprPtr expr3;
      if (SkipName("else")) {
        ASSIGN_OR_RETURN(expr3, ParseExpression(true));
      }
      ExprPtr cond = MakeExpr(Expr::Kind::kCondition, line);
      cond->args.push_back(std::move(expr2));
      cond->args.push_back(std::move(expr1));
      cond->args.push_back(std::move(expr3));
      expr1 = std::move(cond);
      line = Cur().line;
    }
    return expr1;
  }

  static ExprPtr Binary(std::string op, ExprPtr a, ExprPtr b, int line) {
    ExprPtr e = MakeExpr(Expr::Kind::kBinary, line);
    e->name = std::move(op);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }

  absl::StatusOr<ExprPtr> ParseOr() {
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
    while (SkipName("or")) {
      ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
      left = Binary("or", std::move(left), std::move(right), line);
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseAnd() {
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
    while (SkipName("and")) {
      ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
      left = Binary("and", std::move(left), std::move(right), line);
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseNot() {
    if (IsName("not")) {
      DepthGuard guard(this);
      RETURN_IF_ERROR(guard.Check());
      int line = Cur().line;
      Next();
      ExprPtr e = MakeExpr(Expr::Kind::kUnary, line);
      e->name = "not";
      ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
      e->args.push_back(std::move(operand));
      return e;
    }
    return ParseCompare();
  }

  absl::StatusOr<ExprPtr> ParseCompare() {
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr expr, ParseMath1());
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (Cur().type == Type::kOperator &&
          (Cur().value == "==" || Cur().value == "!=" || Cur().value == "<" ||
           Cur().value == "<=" || Cur().value == ">" || Cur().value == ">=")) {
        op = Cur().value;
        Next();
      } else if (SkipName("in")) {
        op = "in";
      } else if (IsName("not") && Look().type == Type::kName && Look().value == "in") {
        Next();
        Next();
        op = "notin";
      } else {
        break;
      }
      if (!cmp) {
        cmp = MakeExpr(Expr::Kind::kCompare, line);
        cmp->args.push_back(std::move(expr));
      }
      ASSIGN_OR_RETURN(ExprPtr operand, ParseMath1());
      cmp->ops.push_back(op);
      cmp->args.push_back(std::move(operand));
    }
    if (cmp) return cmp;
    return expr;
  }

  absl::StatusOr<ExprPtr> ParseMath1() {
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr left, ParseConcat());
    while (IsOp("+") || IsOp("-")) {
      std::string op = Cur().value;
      Next();
      ASSIGN_OR_RETURN(ExprPtr right, ParseConcat());
      left = Binary(op, std::move(left), std::move(right), line);
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseConcat() {
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr left, ParseMath2());
    while (SkipOp("~")) {
      ASSIGN_OR_RETURN(ExprPtr right, ParseMath2());
      left = Binary("~", std::move(left), std::move(right), line);
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseMath2() {
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr left, ParsePow());
    while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
      std::string op = Cur().value;
      Next();
      ASSIGN_OR_RETURN(ExprPtr right, ParsePow());
      left = Binary(op, std::move(left), std::move(right), line);
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParsePow() {
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr left, ParseUnary(true));
    while (SkipOp("**")) {
      ASSIGN_OR_RETURN(ExprPtr right, ParseUnary(true));
      left = Binary("**", std::move(left), std::move(right), line);
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseUnary(bool with_filter) {
    DepthGuard guard(this);
    RETURN_IF_ERROR(guard.Check());
    int line = Cur().line;
    ExprPtr node;
    if (IsOp("-") || IsOp("+")) {
      node = MakeExpr(Expr::Kind::kUnary, line);
      node->name = Cur().value;
      Next();
      ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary(false));
      node->args.push_back(std::move(operand));
    } else {
      ASSIGN_OR_RETURN(node, ParsePrimary());
    }
    ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
    if (with_filter) {
      ASSIGN_OR_RETURN(node, ParseFilterExpr(std::move(node)));
    }
    return node;
  }

  absl::StatusOr<ExprPtr> ParsePrimary() {
    DepthGuard guard(this);
    RETURN_IF_ERROR(guard.Check());
    const Token& t = Cur();
    ExprPtr node;
    switch (t.type) {
      case Type::kName:
        node = MakeExpr(Expr::Kind::kLiteral, t.line);
        if (t.value == "true" || t.value == "True") {
          node->value = Value(true);
        } else if (t.value == "false" || t.value == "False") {
          node->value = Value(false);
        } else if (t.value == "none" || t.value == "None") {
          node->value = Value::None();
        } else {
          node->kind = Expr::Kind::kName;
          node->name = t.value;
        }
        Next();
        return node;
      case Type::kString: {
        std::string s;
        int line = t.line;
        while (Cur().type == Type::kString) {
          s += Cur().value;
          Next();
        }
        node = MakeExpr(Expr::Kind::kLiteral, line);
        node->value = Value(std::move(s));
        return node;
      }
      case Type::kInteger:
        node = MakeExpr(Expr::Kind::kLiteral, t.line);
        node->value = Value(static_cast<int64_t>(std::strtoll(t.value.c_str(), nullptr, 10)));
        Next();
        return node;
      case Type::kFloat:
        node = MakeExpr(Expr::Kind::kLiteral, t.line);
        node->value = Value(std::strtod(t.value.c_str(), nullptr));
        Next();
        return node;
      case Type::kOperator:
        if (t.value == "(") {
          Next();
          ASSIGN_OR_RETURN(node, ParseTuple(false, true, {}, true));
          RETURN_IF_ERROR(ExpectOp(")"));
          return node;
        }
        if (t.value == "[") return ParseList();
        if (t.value == "{") return ParseDict();
        break;
      default:
        break;
    }
    return Fail(absl::StrCat("unexpected ", Describe(t)));
  }

  bool IsTupleEnd(std::initializer_list<const char*> extra_end) const {
    if (Cur().type == Type::kVariableEnd || Cur().type == Type::kBlockEnd ||
        Cur().type == Type::kEof || IsOp(")")) {
      return true;
    }
    for (const char* e : extra_end) {
      if (IsName(e)) return true;
    }
    return false;
  }

  absl::StatusOr<ExprPtr> ParseTuple(bool simplified, bool with_condexpr,
                                     std::initializer_list<const char*> extra_end,
                                     bool explicit_parentheses) {
    int line = Cur().line;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) RETURN_IF_ERROR(ExpectOp(","));
      if (IsTupleEnd(extra_end)) break;
      ExprPtr e;
      if (simplified) {
        ASSIGN_OR_RETURN(e, ParsePrimary());
      } else {
        ASSIGN_OR_RETURN(e, ParseExpression(with_condexpr));
      }
      args.push_back(std::move(e));
      if (IsOp(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parentheses) {
        return Fail(absl::StrCat("expected an expression, got ", Describe(Cur())));
      }
    }
    ExprPtr t = MakeExpr(Expr::Kind::kTuple, line);
    t->args = std::move(args);
    return t;
  }

  absl::StatusOr<ExprPtr> ParseList() {
    ExprPtr list = MakeExpr(Expr::Kind::kList, Cur().line);
    RETURN_IF_ERROR(ExpectOp("["));
    while (!IsOp("]")) {
      if (!list->args.empty()) RETURN_IF_ERROR(ExpectOp(","));
      if (IsOp("]")) break;
      ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(true));
      list->args.push_back(std::move(e));
    }
    RETURN_IF_ERROR(ExpectOp("]"));
    return list;
  }

  absl::StatusOr<ExprPtr> ParseDict() {
    ExprPtr dict = MakeExpr(Expr::Kind::kDict, Cur().line);
    RETURN_IF_ERROR(ExpectOp("{"));
    while (!IsOp("}")) {
      if (!dict->args.empty()) RETURN_IF_ERROR(ExpectOp(","));
      if (IsOp("}")) break;
      ASSIGN_OR_RETURN(ExprPtr key, ParseExpression(true));
      RETURN_IF_ERROR(ExpectOp(":"));
      ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
      dict->args.push_back(std::move(key));
      dict->args.push_back(std::move(value));
    }
    RETURN_IF_ERROR(ExpectOp("}"));
    return dict;
  }

  absl::StatusOr<ExprPtr> ParsePostfix(ExprPtr node) {
    while (true) {
      DepthGuard guard(this);
      RETURN_IF_ERROR(guard.Check());
      if (IsOp(".") || IsOp("[")) {
        ASSIGN_OR_RETURN(node, ParseSubscript(std::move(node)));
      } else if (IsOp("(")) {
        ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
      } else {
        return node;
      }
    }
  }

  absl::StatusOr<ExprPtr> ParseFilterExpr(ExprPtr node) {
    while (true) {
      DepthGuard guard(this);
      RETURN_IF_ERROR(guard.Check());
      if (IsOp("|")) {
        ASSIGN_OR_RETURN(node, ParseFilter(std::move(node), false));
      } else if (IsName("is")) {
        ASSIGN_OR_RETURN(node, ParseTest(std::move(node)));
      } else if (IsOp("(")) {
        ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
      } else {
        return node;
      }
    }
  }

  absl::StatusOr<ExprPtr> ParseSubscript(ExprPtr node) {
    int line = Cur().line;
    if (SkipOp(".")) {
      const Token& attr = Cur();
      if (attr.type == Type::kName) {
        ExprPtr e = MakeExpr(Expr::Kind::kGetattr, line);
        e->name = attr.value;
        e->args.push_back(std::move(node));
        Next();
        return e;
      }
      if (attr.type != Type::kInteger) return Fail("expected name or number");
      ExprPtr index = MakeExpr(Expr::Kind::kLiteral, attr.line);
      index->value = Value(static_cast<int64_t>(std::strtoll(attr.value.c_str(), nullptr, 10)));
      Next();
      ExprPtr e = MakeExpr(Expr::Kind::kGetitem, line);
      e->args.push_back(std::move(node));
      e->args.push_back(std::move(index));
      return e;
    }
    RETURN_IF_ERROR(ExpectOp("["));
    std::vector<ExprPtr> args;
    while (!IsOp("]")) {
      if (!args.empty()) RETURN_IF_ERROR(ExpectOp(","));
      ASSIGN_OR_RETURN(ExprPtr a, ParseSubscribed());
      args.push_back(std::move(a));
    }
    RETURN_IF_ERROR(ExpectOp("]"));
    ExprPtr e = MakeExpr(Expr::Kind::kGetitem, line);
    e->args.push_back(std::move(node));
    if (args.size() == 1) {
      e->args.push_back(std::move(args[0]));
    } else {
      ExprPtr t = MakeExpr(Expr::Kind::kTuple, line);
      t->args = std::move(args);
      e->args.push_back(std::move(t));
    }
    return e;
  }

  absl::StatusOr<ExprPtr> ParseSubscribed() {
    int line = Cur().line;
    std::vector<ExprPtr> args;
    if (SkipOp(":")) {
      args.push_back(nullptr);
    } else {
      ASSIGN_OR_RETURN(ExprPtr node, ParseExpression(true));
      if (!SkipOp(":")) return node;
      args.push_back(std::move(node));
    }
    if (IsOp(":") || IsOp("]") || IsOp(",")) {
      args.push_back(nullptr);
    } else {
      ASSIGN_OR_RETURN(ExprPtr stop, ParseExpression(true));
      args.push_back(std::move(stop));
    }
    if (SkipOp(":") && !IsOp("]") && !IsOp(",")) {
      ASSIGN_OR_RETURN(ExprPtr step, ParseExpression(true));
      args.push_back(std::move(step));
    } else {
      args.push_back(nullptr);
    }
    ExprPtr slice = MakeExpr(Expr::Kind::kSlice, line);
    slice->args = std::move(args);
    return slice;
  }

  // Appends call arguments to e->args / e->kwargs.
  absl::Status ParseCallArgs(Expr* e) {
    int line = Cur().line;
    RETURN_IF_ERROR(ExpectOp("("));
    bool require_comma = false;
    while (!IsOp(")")) {
      if (require_comma) {
        RETURN_IF_ERROR(ExpectOp(","));
        if (IsOp(")")) break;
      }
      if (IsOp("*") || IsOp("**")) {
        return Fail("'*args' and '**kwargs' in calls are not supported");
      }
      if (Cur().type == Type::kName && Look().type == Type::kOperator && Look().value == "=") {
        std::string key = Cur().value;
        Next();
        Next();
        ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
        e->kwargs.emplace_back(std::move(key), std::move(value));
      } else {
        if (!e->kwargs.empty()) return Fail("invalid syntax for function call expression", line);
        ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
        e->args.push_back(std::move(value));
      }
      require_comma = true;
    }
    return ExpectOp(")");
  }

  absl::StatusOr<ExprPtr> ParseCall(ExprPtr node) {
    ExprPtr call = MakeExpr(Expr::Kind::kCall, Cur().line);
    call->args.push_back(std::move(node));
    RETURN_IF_ERROR(ParseCallArgs(call.get()));
    return call;
  }

  absl::StatusOr<ExprPtr> ParseFilter(ExprPtr node, bool start_inline) {
    while (IsOp("|") || start_inline) {
      if (!start_inline) Next();
      start_inline = false;
      int line = Cur().line;
      ASSIGN_OR_RETURN(std::string name, ExpectName());
      while (SkipOp(".")) {
        ASSIGN_OR_RETURN(std::string part, ExpectName());
        name += "." + part;
      }
      ExprPtr f = MakeExpr(Expr::Kind::kFilter, line);
      f->name = std::move(name);
      f->args.push_back(std::move(node));
      if (IsOp("(")) RETURN_IF_ERROR(ParseCallArgs(f.get()));
      node = std::move(f);
    }
    return node;
  }

  absl::StatusOr<ExprPtr> ParseTest(ExprPtr node) {
    int line = Cur().line;
    Next();  // 'is'
    bool negated = SkipName("not");
    ASSIGN_OR_RETURN(std::string name, ExpectName());
    while (SkipOp(".")) {
      ASSIGN_OR_RETURN(std::string part, ExpectName());
      name += "." + part;
    }
    ExprPtr t = MakeExpr(Expr::Kind::kTest, line);
    t->name = std::move(name);
    t->args.push_back(std::move(node));
    if (IsOp("(")) {
      RETURN_IF_ERROR(ParseCallArgs(t.get()));
    } else if ((Cur().type == Type::kName || Cur().type == Type::kString ||
                Cur().type == Type::kInteger || Cur().type == Type::kFloat || IsOp("(") ||
                IsOp("[") || IsOp("{")) &&
               !IsName("else") && !IsName("or") && !IsName("and")) {
      if (IsName("is")) return Fail("You cannot chain multiple tests with is");
      ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
      ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
      t->args.push_back(std::move(arg));
    }
    if (!negated) return t;
    ExprPtr n = MakeExpr(Expr::Kind::kUnary, line);
    n->name = "not";
    n->args.push_back(std::move(t));
    return n;
  }

  const std::vector<Token>& toks_;
  const ParserOptions& opt_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<std::string> open_tags_;
};

}  // namespace

absl::StatusOr<Body> Parse(const std::vector<Token>& tokens, const ParserOptions& options) {
  if (tokens.empty()) return Body();
  return Parser(tokens, options).ParseTemplate();
}

}  // namespace moeserve::jinja
