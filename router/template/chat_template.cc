// ChatTemplate (see chat_template.h).
#include "router/template/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace moeserve {
namespace {

// transformers' SPECIAL_TOKENS_ATTRIBUTES, in its order.
constexpr const char* kSpecialTokens[] = {
    "bos_token", "eos_token", "unk_token",  "sep_token",
    "pad_token", "cls_token", "mask_token", "additional_special_tokens"};

// A special token is a string or an AddedToken object {"content": ...}.
std::optional<std::string> TokenContent(const nlohmann::ordered_json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) {
    return j["content"].get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<ChatTemplate> ChatTemplate::FromTokenizerConfig(
    const std::string& path, const jinja::TemplateOptions& options) {
  std::filesystem::path file(path);
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) file /= "tokenizer_config.json";
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", file.string()));
  std::stringstream buf;
  buf << in.rdbuf();
  nlohmann::ordered_json config =
      nlohmann::ordered_json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), " is not a JSON object"));
  }
  return FromTokenizerConfigJson(config, options);
}

absl::StatusOr<ChatTemplate> ChatTemplate::FromTokenizerConfigJson(
    const nlohmann::ordered_json& config, const jinja::TemplateOptions& options) {
  if (!config.is_object() || !config.contains("chat_template")) {
    return absl::NotFoundError("tokenizer config has no chat_template");
  }
  ChatTemplate result;
  const nlohmann::ordered_json& ct = config["chat_template"];
  auto add = [&](const std::string& name, const nlohmann::ordered_json& source) -> absl::Status {
    if (!source.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("chat_template '", name, "' is not a string"));
    }
    absl::StatusOr<jinja::Template> t = jinja::Template::Parse(source.get<std::string>(), options);
    if (!t.ok()) {
      return absl::Status(t.status().code(),
                          absl::StrCat("chat_template '", name, "': ", t.status().message()));
    }
    result.templates_.insert_or_assign(name, *std::move(t));
    return absl::OkStatus();
  };
  if (ct.is_string()) {
    RETURN_IF_ERROR(add("default", ct));
  } else if (ct.is_array()) {
    for (const auto& entry : ct) {
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
          !entry.contains("template")) {
        return absl::InvalidArgumentError("chat_template list entries need name and template");
      }
      RETURN_IF_ERROR(add(entry["name"].get<std::string>(), entry["template"]));
    }
  } else {
    return absl::InvalidArgumentError("chat_template must be a string or a list");
  }
  for (const char* key : kSpecialTokens) {
    if (!config.contains(key)) continue;
    const nlohmann::ordered_json& v = config[key];
    if (v.is_array()) {
      jinja::ValueList tokens;
      for (const auto& t : v) {
        if (std::optional<std::string> c = TokenContent(t)) tokens.emplace_back(*c);
      }
      if (!tokens.empty()) {
        result.special_tokens_.Set(jinja::Value(key), jinja::Value::List(std::move(tokens)));
      }
    } else if (std::optional<std::string> c = TokenContent(v); c && !c->empty()) {
      result.special_tokens_.Set(jinja::Value(key), jinja::Value(*c));
    }
  }
  return result;
}

absl::StatusOr<std::string> ChatTemplate::Render(const nlohmann::ordered_json& messages,
                                                 const nlohmann::ordered_json& tools,
                                                 bool add_generation_prompt,
                                                 const nlohmann::ordered_json& extra_kwargs,
                                                 const jinja::RenderOptions& render_options) const {
  if (!messages.is_array()) return absl::InvalidArgumentError("messages must be a JSON array");
  if (!tools.is_null() && !tools.is_array()) {
    return absl::InvalidArgumentError("tools must be a JSON array or null");
  }
  if (!extra_kwargs.is_null() && !extra_kwargs.is_object()) {
    return absl::InvalidArgumentError("chat template kwargs must be a JSON object");
  }
  // HF: the "tool_use" template when tools are given and it exists, else "default".
  auto it = templates_.end();
  if (!tools.is_null()) it = templates_.find("tool_use");
  if (it == templates_.end()) it = templates_.find("default");
  if (it == templates_.end()) {
    return absl::NotFoundError("no 'default' chat template among the named templates");
  }
  jinja::Dict vars;
  vars.Set(jinja::Value("messages"), jinja::Value::FromJson(messages));
  vars.Set(jinja::Value("tools"), jinja::Value::FromJson(tools));
  vars.Set(jinja::Value("documents"), jinja::Value::None());
  vars.Set(jinja::Value("add_generation_prompt"), jinja::Value(add_generation_prompt));
  jinja::Dict kwargs = special_tokens_;
  if (extra_kwargs.is_object()) {
    for (const auto& [k, v] : extra_kwargs.items()) {
      if (k == "messages" || k == "tools" || k == "documents" || k == "add_generation_prompt") {
        return absl::InvalidArgumentError(
            absl::StrCat("chat template kwarg '", k, "' collides with a named argument"));
      }
      kwargs.Set(jinja::Value(k), jinja::Value::FromJson(v));
    }
  }
  for (auto& [k, v] : kwargs.entries) vars.Set(std::move(k), std::move(v));
  return it->second.Render(vars, render_options);
}

}  // namespace moeserve
