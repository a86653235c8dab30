// libFuzzer entry for the template engine: the input is a template, rendered over a fixed
// chat context with tight limits. Any input must give output or an error status, never a
// crash, hang or sanitizer report. template_fuzzer_seed_test drives the same entry in the
// normal build.
#include <cstddef>
#include <cstdint>
#include <string>

#include "nlohmann/json.hpp"
#include "router/template/template.h"
#include "router/template/value.h"

namespace {

const moeserve::jinja::Dict& FuzzContext() {
  static const auto* const kContext = [] {
    auto* d = new moeserve::jinja::Dict;
    nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
      "messages": [{"role": "system", "content": "sys /think"},
                   {"role": "user", "content": "héllo 😀"},
                   {"role": "assistant", "content": "<think>r</think>ok",
                    "tool_calls": [{"type": "function",
                                    "function": {"name": "f", "arguments": {"a": [1, 2.5]}}}]},
                   {"role": "tool", "content": "out"}],
      "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
      "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "n": 3})");
    for (const auto& [k, v] : ctx.items()) {
      d->Set(moeserve::jinja::Value(k), moeserve::jinja::Value::FromJson(v));
    }
    return d;
  }();
  return *kContext;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  moeserve::jinja::TemplateOptions options;
  options.max_depth = 64;
  options.max_output_bytes = 1 << 20;
  options.max_loop_iterations = 100000;
  std::string source(reinterpret_cast<const char*>(data), size);
  auto tmpl = moeserve::jinja::Template::Parse(source, options);
  if (!tmpl.ok()) return 0;
  moeserve::jinja::RenderOptions render;
  render.now = [] { return static_cast<std::time_t>(1718452800); };
  auto out = tmpl->Render(FuzzContext(), render);
  (void)out;
  return 0;
}
