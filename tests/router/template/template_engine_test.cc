// Unit tests of the template engine: Python formatting, JSON dumping, error paths and limits.
#include <string>

#include "gtest/gtest.h"
#include "router/template/chat_template.h"
#include "router/template/template.h"
#include "router/template/text.h"
#include "router/template/value.h"

namespace moeserve::jinja {
namespace {

absl::StatusOr<std::string> Render(const std::string& src, const TemplateOptions& opt = {}) {
  absl::StatusOr<Template> t = Template::Parse(src, opt);
  if (!t.ok()) return t.status();
  return t->Render(Dict());
}

TEST(Text, FormatPyFloat) {
  EXPECT_EQ(FormatPyFloat(1.0), "1.0");
  EXPECT_EQ(FormatPyFloat(0.1), "0.1");
  EXPECT_EQ(FormatPyFloat(1e16), "1e+16");
  EXPECT_EQ(FormatPyFloat(1e15), "1000000000000000.0");
  EXPECT_EQ(FormatPyFloat(1e-5), "1e-05");
  EXPECT_EQ(FormatPyFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatPyFloat(-0.0), "-0.0");
  EXPECT_EQ(FormatPyFloat(1.5e300), "1.5e+300");
  EXPECT_EQ(FormatPyFloat(123456789.123), "123456789.123");
}

TEST(Text, StripAndCase) {
  std::string x = "x";
  EXPECT_EQ(PyStrip("\u3000 a \xc2\xa0", nullptr, true, true), "a");
  EXPECT_EQ(PyStrip("xxaxx", &x, true, false), "axx");
  EXPECT_EQ(PyUpper("héllo"), "HÉLLO");
  EXPECT_EQ(PyTitle("hello wORLD 1st"), "Hello World 1St");
}

TEST(Value, ReprMatchesPython) {
  EXPECT_EQ(Repr(Value("it's")), "\"it's\"");
  EXPECT_EQ(Repr(Value("a\nb")), "'a\\nb'");
  EXPECT_EQ(Repr(Value::List({Value(int64_t{1}), Value("a"), Value::None(), Value(true)})),
            "[1, 'a', None, True]");
  EXPECT_EQ(Repr(Value::Tuple({Value(int64_t{1})})), "(1,)");
  EXPECT_EQ(Str(Value()), "");
}

TEST(Value, DumpJsonMatchesPython) {
  Value v = Value::FromJson(nlohmann::ordered_json::parse(R"({"b": [1, 2.0, null], "a": "é\n"})"));
  EXPECT_EQ(*DumpJson(v, {}), R"({"b": [1, 2.0, null], "a": "é\n"})");
  JsonOptions indent;
  indent.indent = "  ";
  EXPECT_EQ(*DumpJson(v, indent),
            "{\n  \"b\": [\n    1,\n    2.0,\n    null\n  ],\n  \"a\": \"é\\n\"\n}");
  JsonOptions ascii;
  ascii.ensure_ascii = true;
  EXPECT_EQ(*DumpJson(Value("é😀"), ascii), R"("\u00e9\ud83d\ude00")");
  EXPECT_FALSE(DumpJson(Value(), {}).ok());
}

TEST(Engine, RaiseExceptionKeepsMessage) {
  absl::StatusOr<std::string> r = Render("{{ raise_exception('Roles must alternate') }}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "Roles must alternate");
}

TEST(Engine, ErrorsNameConstructAndLine) {
  auto expect_error = [](const std::string& src, const std::string& fragment) {
    absl::StatusOr<std::string> r = Render(src);
    ASSERT_FALSE(r.ok()) << src;
    EXPECT_NE(std::string(r.status().message()).find(fragment), std::string::npos)
        << src << " -> " << r.status();
  };
  expect_error("a\n{% nosuchtag %}", "line 2: encountered unknown tag 'nosuchtag'");
  expect_error("{% extends 'x' %}", "'extends' tag is not supported");
  expect_error("{% include 'x' %}", "'include' tag is not supported");
  expect_error("{% if x %}\nopen", "looking for 'elif' or 'else' or 'endif'");
  expect_error("{% for x in y %}", "'endfor'");
  expect_error("{{ x|nosuch }}", "no filter named 'nosuch'");
  expect_error("{% if x is nosuch %}{% endif %}", "no test named 'nosuch'");
  expect_error("{% for x in y recursive %}{% endfor %}", "recursive for loops");
  expect_error("{{ f(*args) }}", "'*args'");
  expect_error("{# open", "Missing end of comment tag");
  expect_error("{{ 'a' + 1 }}", "can only concatenate str");
  expect_error("x\n\n{{ u.a }}", "line 3: 'u' is undefined");
  expect_error("{% set l = [] %}{{ l.append(1) }}", "unsafe");
  expect_error("{{ 2 ** 100 }}", "integer overflow");
  expect_error("{% break %}", "outside of a for loop");
}

TEST(Engine, DepthLimit) {
  TemplateOptions opt;
  opt.max_depth = 50;
  absl::StatusOr<std::string> r =
      Render("{{ " + std::string(100, '(') + "1" + std::string(100, ')') + " }}", opt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("nesting deeper"), std::string::npos);
  std::string nested;
  for (int i = 0; i < 60; ++i) nested += "{% if true %}";
  for (int i = 0; i < 60; ++i) nested += "{% endif %}";
  EXPECT_FALSE(Render(nested, opt).ok());
  r = Render("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(Engine, OutputLimit) {
  TemplateOptions opt;
  opt.max_output_bytes = 1000;
  absl::StatusOr<std::string> r = Render("{% for i in range(2000) %}x{% endfor %}", opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(Render("{{ 'x' * 5000 }}", opt).ok());
  // Loop bodies get a fresh scope per iteration (as in Jinja2), so growth needs a namespace.
  EXPECT_FALSE(Render("{% set ns = namespace(s='xx') %}{% for i in range(20) %}"
                      "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                      opt)
                   .ok());
  EXPECT_TRUE(Render("{% for i in range(999) %}x{% endfor %}", opt).ok());
}

TEST(Engine, IterationLimit) {
  TemplateOptions opt;
  opt.max_loop_iterations = 10000;
  absl::StatusOr<std::string> r =
      Render("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(Engine, TemplateIsReusableAndCopyable) {
  absl::StatusOr<Template> t = Template::Parse("{{ x }}-{{ y|default(0) }}", {});
  ASSERT_TRUE(t.ok());
  Template copy = *t;
  Dict vars;
  vars.Set(Value("x"), Value("a"));
  EXPECT_EQ(*t->Render(vars), "a-0");
  vars.Set(Value("y"), Value(int64_t{2}));
  EXPECT_EQ(*copy.Render(vars), "a-2");
}

TEST(ChatTemplateTest, EnableThinkingDefaultsToTemplate) {
  nlohmann::ordered_json config = {
      {"eos_token", "</s>"},
      {"chat_template",
       "{{ eos_token }}{{ bos_token is defined }}{% if enable_thinking is defined and "
       "enable_thinking is false %}off{% else %}on{% endif %}"}};
  absl::StatusOr<ChatTemplate> chat = ChatTemplate::FromTokenizerConfigJson(config);
  ASSERT_TRUE(chat.ok()) << chat.status();
  auto msgs = nlohmann::ordered_json::array();
  EXPECT_EQ(*chat->Render(msgs, nullptr, true, nullptr), "</s>Falseon");
  EXPECT_EQ(*chat->Render(msgs, nullptr, true, {{"enable_thinking", false}}), "</s>Falseoff");
  EXPECT_EQ(*chat->Render(msgs, nullptr, true, {{"eos_token", "E"}}), "EFalseon");
  EXPECT_FALSE(chat->Render(msgs, nullptr, true, {{"messages", 1}}).ok());
  EXPECT_FALSE(chat->Render(nlohmann::ordered_json::object(), nullptr, true, nullptr).ok());
}

TEST(ChatTemplateTest, NamedTemplatesPickToolUse) {
  nlohmann::ordered_json config = {{"chat_template",
                                    {{{"name", "default"}, {"template", "D"}},
                                     {{"name", "tool_use"}, {"template", "T{{ tools|length }}"}}}}};
  absl::StatusOr<ChatTemplate> chat = ChatTemplate::FromTokenizerConfigJson(config);
  ASSERT_TRUE(chat.ok()) << chat.status();
  auto msgs = nlohmann::ordered_json::array();
  EXPECT_EQ(*chat->Render(msgs, nullptr, false, nullptr), "D");
  EXPECT_EQ(*chat->Render(msgs, nlohmann::ordered_json::array({1, 2}), false, nullptr), "T2");
}

TEST(ChatTemplateTest, MissingConfig) {
  EXPECT_FALSE(ChatTemplate::FromTokenizerConfig("/nonexistent/dir").ok());
  EXPECT_FALSE(ChatTemplate::FromTokenizerConfigJson({{"eos_token", "x"}}).ok());
  EXPECT_FALSE(ChatTemplate::FromTokenizerConfigJson({{"chat_template", "{% if %}"}}).ok());
}

}  // namespace
}  // namespace moeserve::jinja
