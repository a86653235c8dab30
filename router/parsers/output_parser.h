// OutputParser: the router's whole text-output parsing for Qwen3 MoE models, one-shot and
// streaming: the reasoning split first (reasoning_parser.h), then tool-call extraction on the
// content only (tool_call_parser.h), so a `<tool_call>` inside reasoning stays reasoning.
//
// The types map one-to-one onto OpenAI chat completions: ParsedOutput is a final
// chat.completion `message`, OutputDelta is a chat.completion.chunk `delta`; the ToJson
// helpers build exactly those objects. All conventions (whitespace, ids, argument streaming)
// are those of the two parsers; see their headers.
//
// Contract: for every chunking of an output, concatenating the streamed deltas (reasoning,
// content, and per tool-call index the arguments; id and name from the header delta) gives
// ParseOutput's result for the whole output, given id generators that produce the same
// sequence. Nothing here fails or throws: text that is not a valid call is content.
//
// Bytes pass through unchanged, so valid UTF-8 in gives valid UTF-8 out, and deltas of whole
// characters give deltas of whole characters (only ASCII tag prefixes are held back). If the
// text may be invalid UTF-8, dump the ToJson results with error_handler_t::replace.
//
// OutputParser is not thread-safe: one owner (the request's output task).
#ifndef MOESERVE_ROUTER_PARSERS_OUTPUT_PARSER_H_
#define MOESERVE_ROUTER_PARSERS_OUTPUT_PARSER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"
#include "router/parsers/reasoning_parser.h"
#include "router/parsers/tool_call_parser.h"

namespace moeserve::parsers {

struct OutputParserOptions {
  ReasoningOptions reasoning;
  // Off when the request has no tools (then `<tool_call>` text is plain content).
  bool parse_tool_calls = true;
};

// A final assistant message.
struct ParsedOutput {
  std::string reasoning;  // reasoning_content; empty means none
  std::string content;    // empty means none
  std::vector<ToolCall> tool_calls;

  friend bool operator==(const ParsedOutput&, const ParsedOutput&) = default;
};

// One-shot parse of a complete output. Ids come from `next_id`, one per call, in order.
ParsedOutput ParseOutput(std::string_view text, const OutputParserOptions& options,
                         const ToolCallIdGenerator& next_id);
// The same with random "call_..." ids.
ParsedOutput ParseOutput(std::string_view text, const OutputParserOptions& options);

// What one Push or Finish releases: the body of a chunk's `delta`. Within one delta the content
// may lie on both sides of a call; callers wanting that order split their Push calls.
struct OutputDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallDelta> tool_calls;

  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
};

class OutputParser {
 public:
  explicit OutputParser(const OutputParserOptions& options = {},
                        ToolCallIdGenerator next_id = MakeRandomToolCallIdGenerator());

  // Consumes a text delta (any substring of the output). May return an empty delta.
  OutputDelta Push(std::string_view delta);
  // End of output: releases everything held back. Push or Finish after Finish aborts.
  OutputDelta Finish();

  // Total bytes examined by both stages (<= 4 * input bytes; linear-time witness for tests).
  uint64_t bytes_scanned() const;

 private:
  OutputDelta Route(ReasoningDelta reasoning_delta, bool finish);

  bool parse_tool_calls_;
  ReasoningStreamParser reasoning_;
  ToolCallStreamParser tool_calls_;
};

// The `delta` object of a chat.completion.chunk: only non-empty fields appear
// ("reasoning_content", "content", "tool_calls"); header tool-call entries carry
// {index, id, type: "function", function: {name, arguments: ""}}, fragments
// {index, function: {arguments}}. Adding "role" to the first chunk is the caller's job.
nlohmann::json ToJson(const OutputDelta& delta);

// The `message` object of a chat.completion: {"role": "assistant", "content",
// "reasoning_content", "tool_calls"}. content is null when empty and there are tool calls
// (as OpenAI does), "" when empty without calls; reasoning_content is null when empty;
// tool_calls is omitted when there are none.
nlohmann::json ToJson(const ParsedOutput& message);

}  // namespace moeserve::parsers

#endif  // MOESERVE_ROUTER_PARSERS_OUTPUT_PARSER_H_
