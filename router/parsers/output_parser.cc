#include "router/parsers/output_parser.h"

#include <utility>

namespace moeserve::parsers {

ParsedOutput ParseOutput(std::string_view text, const OutputParserOptions& options,
                         const ToolCallIdGenerator& next_id) {
  ReasoningResult split = ParseReasoning(text, options.reasoning);
  ParsedOutput out;
  out.reasoning = std::move(split.reasoning);
  if (!options.parse_tool_calls) {
    out.content = std::move(split.content);
    return out;
  }
  ToolCallParseResult calls = ParseToolCalls(split.content, next_id);
  out.content = std::move(calls.content);
  out.tool_calls = std::move(calls.tool_calls);
  return out;
}

ParsedOutput ParseOutput(std::string_view text, const OutputParserOptions& options) {
  return ParseOutput(text, options, MakeRandomToolCallIdGenerator());
}

OutputParser::OutputParser(const OutputParserOptions& options, ToolCallIdGenerator next_id)
    : parse_tool_calls_(options.parse_tool_calls),
      reasoning_(options.reasoning),
      tool_calls_(std::move(next_id)) {}

OutputDelta OutputParser::Push(std::string_view delta) {
  return Route(reasoning_.Push(delta), /*finish=*/false);
}

OutputDelta OutputParser::Finish() { return Route(reasoning_.Finish(), /*finish=*/true); }

OutputDelta OutputParser::Route(ReasoningDelta reasoning_delta, bool finish) {
  OutputDelta out;
  out.reasoning = std::move(reasoning_delta.reasoning);
  if (!parse_tool_calls_) {
    out.content = std::move(reasoning_delta.content);
    return out;
  }
  ToolCallStreamDelta calls = tool_calls_.Push(reasoning_delta.content);
  out.content = std::move(calls.content);
  out.tool_calls = std::move(calls.tool_calls);
  if (finish) {
    ToolCallStreamDelta tail = tool_calls_.Finish();
    out.content.append(tail.content);
    for (ToolCallDelta& call : tail.tool_calls) out.tool_calls.push_back(std::move(call));
  }
  return out;
}

uint64_t OutputParser::bytes_scanned() const {
  return reasoning_.bytes_scanned() + tool_calls_.bytes_scanned();
}

nlohmann::json ToJson(const OutputDelta& delta) {
  nlohmann::json json = nlohmann::json::object();
  if (!delta.reasoning.empty()) json["reasoning_content"] = delta.reasoning;
  if (!delta.content.empty()) json["content"] = delta.content;
  if (!delta.tool_calls.empty()) {
    nlohmann::json calls = nlohmann::json::array();
    for (const ToolCallDelta& call : delta.tool_calls) {
      nlohmann::json entry = {{"index", call.index}};
      nlohmann::json function = nlohmann::json::object();
      if (call.is_header()) {
        entry["id"] = *call.id;
        entry["type"] = "function";
        function["name"] = call.name.value_or("");
      }
      function["arguments"] = call.arguments;
      entry["function"] = std::move(function);
      calls.push_back(std::move(entry));
    }
    json["tool_calls"] = std::move(calls);
  }
  return json;
}

nlohmann::json ToJson(const ParsedOutput& message) {
  nlohmann::json json = {{"role", "assistant"}};
  if (message.content.empty() && !message.tool_calls.empty()) {
    json["content"] = nullptr;
  } else {
    json["content"] = message.content;
  }
  if (message.reasoning.empty()) {
    json["reasoning_content"] = nullptr;
  } else {
    json["reasoning_content"] = message.reasoning;
  }
  if (!message.tool_calls.empty()) {
    nlohmann::json calls = nlohmann::json::array();
    for (const ToolCall& call : message.tool_calls) {
      calls.push_back({{"id", call.id},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    }
    json["tool_calls"] = std::move(calls);
  }
  return json;
}

}  // namespace moeserve::parsers
