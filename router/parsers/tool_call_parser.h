// Qwen3/Hermes tool-call parser: turns `<tool_call>{json}</tool_call>` blocks in the content
// into OpenAI tool calls, one-shot or from a stream of text deltas.
//
// Input is content only: the caller runs the reasoning parser first, so a `<tool_call>` inside
// reasoning is never a call (OutputParser does this composition).
//
// Recognition. A call is `<tool_call>` BODY `</tool_call>`, where the first `</tool_call>`
// after the opening tag closes it. BODY, with surrounding whitespace, must be one JSON object
// (nesting depth <= kMaxToolCallJsonDepth) with a non-empty string "name" and an "arguments"
// that is an object, a string, null or absent. Anything else (malformed JSON, missing name,
// arguments an array/number/bool, invalid UTF-8) is not a call: the whole
// `<tool_call>...</tool_call>` stays content, verbatim. An unclosed `<tool_call>` at the end of
// output stays content, verbatim. Parsing never throws.
//
// Arguments. An object is re-serialized compactly, keys in their original order, no spaces:
// `{"city":"Paris","days":3}` (nlohmann::ordered_json::dump(), non-ASCII kept as UTF-8,
// numbers as nlohmann prints them: 1.50 -> 1.5, 1e2 -> 100.0). A string is kept as is (it is
// already the serialized arguments). Null or absent gives "{}".
//
// Whitespace. Text outside calls is content, verbatim, with one exception: whitespace
// (space, \t, \r, \n) right after a recognized call's `</tool_call>` is dropped, so the
// newlines Qwen3 writes between and after calls do not become content. Text before a call
// keeps its trailing whitespace (stripping it would need unbounded hold-back in streaming).
//
// Ids. Each call gets the next id from a ToolCallIdGenerator; the default makes
// "call_" + 24 random alphanumerics. Tests inject MakeSequentialToolCallIdGenerator().
//
// Streaming. Whether a block is a call is only known at `</tool_call>` (the JSON may turn out
// malformed), so a block is held back until it closes; then either its text is released as
// content, or a call is released as an OpenAI header delta {index, id, name, arguments ""}
// followed by one arguments delta carrying the whole serialized arguments. So the arguments
// are never streamed raw: that could not be made equal to the re-serialized string, nor
// retracted if the block proved malformed. Held back otherwise: only a prefix of `<tool_call>`.
//
// ToolCallStreamParser is not thread-safe: one owner.
#ifndef MOESERVE_ROUTER_PARSERS_TOOL_CALL_PARSER_H_
#define MOESERVE_ROUTER_PARSERS_TOOL_CALL_PARSER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/parsers/tag_matcher.h"

namespace moeserve::parsers {

inline constexpr std::string_view kToolCallStart = "<tool_call>";
inline constexpr std::string_view kToolCallEnd = "</tool_call>";
// Deeper JSON in a block makes it "malformed" (keeps re-serialization's recursion bounded).
inline constexpr int kMaxToolCallJsonDepth = 128;

// Returns the id for the next tool call. Called once per recognized call, in output order.
using ToolCallIdGenerator = std::function<std::string()>;

// "call_" + 24 characters from [A-Za-z0-9], from a generator seeded by std::random_device
// and owned by the returned function.
ToolCallIdGenerator MakeRandomToolCallIdGenerator();
// prefix + "0", prefix + "1", ... (deterministic; for tests and golden files).
ToolCallIdGenerator MakeSequentialToolCallIdGenerator(std::string prefix = "call_");

// One complete call; its OpenAI "type" is always "function".
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // serialized JSON, see the file comment

  friend bool operator==(const ToolCall&, const ToolCall&) = default;
};

// Parses the body between the tags (without them). nullopt when it is not a valid call; the
// returned call has an empty id. Exposed for tests.
std::optional<ToolCall> ParseToolCallBody(std::string_view body);

struct ToolCallParseResult {
  std::string content;
  std::vector<ToolCall> tool_calls;

  friend bool operator==(const ToolCallParseResult&, const ToolCallParseResult&) = default;
};

// One-shot: extracts every call from complete content. Linear time; never fails.
ToolCallParseResult ParseToolCalls(std::string_view content, const ToolCallIdGenerator& next_id);

// One element of an OpenAI chunk's delta.tool_calls. A header has id and name set and empty
// arguments; an arguments fragment has neither.
struct ToolCallDelta {
  int index = 0;  // 0-based position of the call in this output
  std::optional<std::string> id;
  std::optional<std::string> name;
  std::string arguments;

  bool is_header() const { return id.has_value(); }
  friend bool operator==(const ToolCallDelta&, const ToolCallDelta&) = default;
};

struct ToolCallStreamDelta {
  std::string content;
  std::vector<ToolCallDelta> tool_calls;

  bool empty() const { return content.empty() && tool_calls.empty(); }
};

// Streaming: feed content deltas (any substrings). Concatenating the content of all deltas,
// and per index the arguments, gives ParseToolCalls' result for any chunking.
class ToolCallStreamParser {
 public:
  using Delta = ToolCallStreamDelta;

  explicit ToolCallStreamParser(ToolCallIdGenerator next_id = MakeRandomToolCallIdGenerator());

  Delta Push(std::string_view delta);
  // End of output: an unclosed block or a partial `<tool_call>` is released as content.
  // Calling Push or Finish after Finish aborts.
  Delta Finish();

  // Bytes examined so far: each input byte once, plus each block body twice when validated
  // (a depth pre-scan and the JSON parse). So bytes_scanned() <= 3 * total input bytes.
  uint64_t bytes_scanned() const { return bytes_scanned_; }
  // Calls recognized so far.
  int num_tool_calls() const { return next_index_; }

 private:
  enum class State {
    kText,       // content, looking for `<tool_call>`
    kAfterCall,  // content right after a call: dropping whitespace
    kInCall,     // inside a block, looking for `</tool_call>`
  };

  void Feed(char c, Delta* out);
  void CloseBlock(Delta* out);
  void AssertNotFinished() const;

  ToolCallIdGenerator next_id_;
  State state_ = State::kText;
  TagMatcher start_{kToolCallStart};
  TagMatcher end_{kToolCallEnd};
  std::string block_;  // bytes after `<tool_call>` of the open block, including `</tool_call>`
  int next_index_ = 0;
  bool finished_ = false;
  uint64_t bytes_scanned_ = 0;
};

}  // namespace moeserve::parsers

#endif  // MOESERVE_ROUTER_PARSERS_TOOL_CALL_PARSER_H_
