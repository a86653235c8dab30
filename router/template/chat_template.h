// ChatTemplate: a model's chat template, rendered the way Hugging Face's
// tokenizer.apply_chat_template(messages, tools=..., add_generation_prompt=..., **kwargs) does.
//
// The template comes from tokenizer_config.json's "chat_template" (a string, or a list of named
// templates: "tool_use" when tools are given and present, else "default"). Render passes the
// template what HF passes: messages, tools (none when absent), documents (none),
// add_generation_prompt, the tokenizer's special tokens (bos_token, eos_token, pad_token,
// unk_token, ..., additional_special_tokens; those that are unset are left undefined), and every
// extra keyword (chat_template_kwargs such as enable_thinking), extra keywords winning over
// special tokens. A flag such as enable_thinking that the caller leaves out stays undefined, so
// the template's own default applies.
//
// JSON comes in as nlohmann::ordered_json because key order reaches the output (tojson of tool
// schemas keeps insertion order, as Python's json.dumps does); a plain nlohmann::json converts
// with `nlohmann::ordered_json(j)`, with its keys sorted.
//
// Immutable after construction; Render may be called from many threads at once.
#ifndef MOESERVE_ROUTER_TEMPLATE_CHAT_TEMPLATE_H_
#define MOESERVE_ROUTER_TEMPLATE_CHAT_TEMPLATE_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "router/template/template.h"
#include "router/template/value.h"

namespace moeserve {

class ChatTemplate {
 public:
  // Reads `path`: a tokenizer_config.json file, or a directory holding one.
  static absl::StatusOr<ChatTemplate> FromTokenizerConfig(
      const std::string& path, const jinja::TemplateOptions& options = {});
  // From the parsed contents of tokenizer_config.json.
  static absl::StatusOr<ChatTemplate> FromTokenizerConfigJson(
      const nlohmann::ordered_json& config, const jinja::TemplateOptions& options = {});

  // Renders `messages` (a JSON array of message objects). `tools` is a JSON array, or null
  // when there are none. `extra_kwargs` is a JSON object (or null) of further template
  // variables, e.g. {"enable_thinking": false}. Template errors, raise_exception included,
  // come back as InvalidArgument with the template's message.
  absl::StatusOr<std::string> Render(const nlohmann::ordered_json& messages,
                                     const nlohmann::ordered_json& tools,
                                     bool add_generation_prompt,
                                     const nlohmann::ordered_json& extra_kwargs,
                                     const jinja::RenderOptions& render_options = {}) const;

 private:
  ChatTemplate() = default;

  std::map<std::string, jinja::Template> templates_;  // By name; "default" for a single one.
  jinja::Dict special_tokens_;
};

}  // namespace moeserve

#endif  // MOESERVE_ROUTER_TEMPLATE_CHAT_TEMPLATE_H_
