// `moeserve render-chat --tokenizer DIR`: renders chat requests with the model's chat template.
//
// Reads one JSON object per line on stdin:
//   {"messages": [...], "tools": [...]?, "add_generation_prompt": bool?,
//    "enable_thinking": bool?, "chat_template_kwargs": {...}?}
// and writes, per input line, one line on stdout: the rendered prompt as a JSON string.
// "enable_thinking" at the top level is shorthand for the same key in chat_template_kwargs and
// wins over it. Blank input lines are skipped.
//
// Errors: a bad flag or an unreadable template is one line on stderr and exit 2 before any
// input is read. A bad input line (not JSON, wrong field types, unknown fields, a template
// error such as raise_exception) gives one line on stderr naming the input line, `null` on
// stdout so output lines stay aligned with input lines, and processing continues; the exit code
// is then 2 at the end.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"
#include "router/template/chat_template.h"

namespace moeserve::cli {
namespace {

constexpr char kUsage[] =
    "usage: moeserve render-chat --tokenizer DIR < requests.jsonl\n"
    "  Renders each JSON line {\"messages\": [...], \"tools\"?, \"add_generation_prompt\"?,\n"
    "  \"enable_thinking\"?, \"chat_template_kwargs\"?} with DIR/tokenizer_config.json's\n"
    "  chat_template and prints the prompt as one JSON string per line.\n";

std::string OneLine(absl::string_view msg) {
  return absl::StrReplaceAll(msg, {{"\r", "\\r"}, {"\n", "\\n"}});
}

absl::StatusOr<std::string> RenderLine(const ChatTemplate& chat, const std::string& line) {
  nlohmann::ordered_json req = nlohmann::ordered_json::parse(line, nullptr, false);
  if (req.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (!req.is_object()) return absl::InvalidArgumentError("expected a JSON object");
  nlohmann::ordered_json messages, tools, kwargs = nlohmann::ordered_json::object();
  bool add_generation_prompt = false;
  const nlohmann::ordered_json* enable_thinking = nullptr;
  for (const auto& [key, value] : req.items()) {
    if (key == "messages") {
      if (!value.is_array()) return absl::InvalidArgumentError("\"messages\" must be an array");
      messages = value;
    } else if (key == "tools") {
      if (!value.is_array() && !value.is_null()) {
        return absl::InvalidArgumentError("\"tools\" must be an array or null");
      }
      tools = value;
    } else if (key == "add_generation_prompt") {
      if (!value.is_boolean()) {
        return absl::InvalidArgumentError("\"add_generation_prompt\" must be a boolean");
      }
      add_generation_prompt = value.get<bool>();
    } else if (key == "enable_thinking") {
      if (!value.is_boolean()) {
        return absl::InvalidArgumentError("\"enable_thinking\" must be a boolean");
      }
      enable_thinking = &value;
    } else if (key == "chat_template_kwargs") {
      if (!value.is_object() && !value.is_null()) {
        return absl::InvalidArgumentError("\"chat_template_kwargs\" must be an object");
      }
      if (value.is_object()) kwargs = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown field \"", key, "\""));
    }
  }
  if (messages.is_null()) return absl::InvalidArgumentError("missing \"messages\"");
  if (enable_thinking != nullptr) kwargs["enable_thinking"] = *enable_thinking;
  return chat.Render(messages, tools, add_generation_prompt, kwargs);
}

}  // namespace

int RunRenderChat(const std::vector<std::string>& args) {
  std::string tokenizer;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--tokenizer" && i + 1 < args.size()) {
      tokenizer = args[++i];
    } else if (a.rfind("--tokenizer=", 0) == 0) {
      tokenizer = a.substr(std::string("--tokenizer=").size());
    } else {
      std::fprintf(stderr, "moeserve render-chat: unexpected argument '%s' (try --help)\n",
                   a.c_str());
      return 2;
    }
  }
  if (tokenizer.empty()) {
    std::fprintf(stderr, "moeserve render-chat: --tokenizer DIR is required\n");
    return 2;
  }
  absl::StatusOr<ChatTemplate> chat = ChatTemplate::FromTokenizerConfig(tokenizer);
  if (!chat.ok()) {
    std::fprintf(stderr, "moeserve render-chat: %s\n", OneLine(chat.status().message()).c_str());
    return 2;
  }
  int exit_code = 0;
  std::string line;
  for (int64_t line_no = 1; std::getline(std::cin, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    absl::StatusOr<std::string> prompt = RenderLine(*chat, line);
    if (!prompt.ok()) {
      std::fprintf(stderr, "moeserve render-chat: line %lld: %s\n", static_cast<long long>(line_no),
                   OneLine(prompt.status().message()).c_str());
      std::fputs("null\n", stdout);
      exit_code = 2;
      continue;
    }
    std::string out = nlohmann::ordered_json(*prompt).dump(
        -1, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::replace);
    std::fputs(out.c_str(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  return exit_code;
}

}  // namespace moeserve::cli
