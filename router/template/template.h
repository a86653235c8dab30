// Template: a parsed Jinja template, rendered the way Python Jinja2 renders it.
//
// Covers the subset Hugging Face chat templates use, with HF's environment: an
// ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and the loopcontrols extension,
// the globals raise_exception, strftime_now, namespace, range and dict, and HF's tojson filter
// (json.dumps with ensure_ascii=False; keys keep their order). Whatever the engine does not
// support fails with an error naming the construct and line; it never renders something
// different in silence. Rendering is bounded by TemplateOptions (nesting depth, output size,
// loop iterations), so hostile templates and inputs produce errors, not crashes.
//
// Parse once, render many times: a Template is immutable after Parse, cheap to copy (the syntax
// tree is shared) and safe to render from many threads at once.
#ifndef MOESERVE_ROUTER_TEMPLATE_TEMPLATE_H_
#define MOESERVE_ROUTER_TEMPLATE_TEMPLATE_H_

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "router/template/ast.h"
#include "router/template/value.h"

namespace moeserve::jinja {

struct TemplateOptions {
  // Jinja2's Environment flags; Hugging Face sets both.
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  // Deepest nesting of blocks and expressions in the source, and of macro calls while rendering.
  int max_depth = 200;
  // Largest rendered output, and largest string built while rendering.
  size_t max_output_bytes = 16u << 20;
  // Total loop iterations (all loops, all filters that iterate) one render may run.
  int64_t max_loop_iterations = 1'000'000;
};

// Per-render inputs besides the variables.
struct RenderOptions {
  // The clock behind strftime_now(); the real clock when unset. Tests pin it.
  std::function<std::time_t()> now;
};

class Template {
 public:
  // Tokenizes and parses `source`. Errors name the line and the problem; unknown filters and
  // tests are errors here, as they are when Jinja2 compiles a template.
  static absl::StatusOr<Template> Parse(absl::string_view source, const TemplateOptions& options);

  // Renders with `variables` as the template's context (Jinja's render(**variables)).
  absl::StatusOr<std::string> Render(const Dict& variables,
                                     const RenderOptions& render_options = {}) const;

 private:
  Template(std::shared_ptr<const Body> body, const TemplateOptions& options)
      : body_(std::move(body)), options_(options) {}

  std::shared_ptr<const Body> body_;
  TemplateOptions options_;
};

}  // namespace moeserve::jinja

#endif  // MOESERVE_ROUTER_TEMPLATE_TEMPLATE_H_
