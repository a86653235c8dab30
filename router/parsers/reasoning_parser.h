// Qwen3 reasoning parser: splits model output into reasoning_content and content.
//
// Qwen3 writes its chain of thought as `<think>\n ... \n</think>\n\n answer`. How the output
// starts depends on the chat template, which the caller describes with ReasoningOptions:
//
//   thinking_enabled  prompt_opened_think  output is parsed as
//   false             (ignored)            all content, verbatim. The template already put
//                                          `<think>\n\n</think>\n\n` in the prompt, so any
//                                          `<think>`/`</think>` the model writes is just text.
//   true              false                reasoning only if the output begins (byte 0) with
//                                          `<think>`; otherwise all content, verbatim.
//   true              true                 the template ended the prompt inside `<think>`, so
//                                          the output begins in reasoning (a `<think>` it
//                                          writes is reasoning text).
//
// Inside reasoning, the first `</think>` ends it; later `<think>`/`</think>` are content text.
// Output that ends before `</think>` (truncated, or max_tokens) is all reasoning.
//
// Whitespace rule (the same in one-shot and streaming parsing). Tags are removed and:
//   * one "\n" right after the reasoning starts (after `<think>`, or at byte 0 when the prompt
//     opened it) is removed;
//   * one "\n" right before `</think>` is removed;
//   * every "\n" right after `</think>` is removed (Qwen3 writes "\n\n"); other leading
//     whitespace of the content, and all other text, is kept verbatim.
// So `<think>\nA\nB\n</think>\n\nAnswer` gives reasoning "A\nB" and content "Answer". vLLM's
// Qwen3 parser keeps these newlines ("\nA\nB\n", "\n\nAnswer"); we strip exactly the newlines
// the model's format puts around the tags, and nothing a model could mean as text.
//
// ReasoningStreamParser is not thread-safe: one owner (the request's output task).
#ifndef MOESERVE_ROUTER_PARSERS_REASONING_PARSER_H_
#define MOESERVE_ROUTER_PARSERS_REASONING_PARSER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "router/parsers/tag_matcher.h"

namespace moeserve::parsers {

inline constexpr std::string_view kThinkStart = "<think>";
inline constexpr std::string_view kThinkEnd = "</think>";

// How the chat template left the prompt; see the file comment for the table.
struct ReasoningOptions {
  // The request asked for thinking (Qwen3 chat_template_kwargs.enable_thinking, default true).
  bool thinking_enabled = true;
  // The rendered prompt already ends inside an opened `<think>` (e.g. Qwen3-*-Thinking-2507).
  bool prompt_opened_think = false;
};

// The result of splitting a whole output. Empty strings mean "none".
struct ReasoningResult {
  std::string reasoning;
  std::string content;

  friend bool operator==(const ReasoningResult&, const ReasoningResult&) = default;
};

// One-shot: splits a complete output. Never fails; linear time.
ReasoningResult ParseReasoning(std::string_view text, const ReasoningOptions& options);

// What one Push or Finish releases. Concatenating every delta's fields gives ParseReasoning's
// result for the whole text, for any chunking.
struct ReasoningDelta {
  std::string reasoning;
  std::string content;

  bool empty() const { return reasoning.empty() && content.empty(); }
  friend bool operator==(const ReasoningDelta&, const ReasoningDelta&) = default;
};

// Streaming: feed text deltas as they are detokenized. A delta may be any substring of the
// output, down to one byte, so tags may arrive split anywhere.
class ReasoningStreamParser {
 public:
  using Delta = ReasoningDelta;

  explicit ReasoningStreamParser(const ReasoningOptions& options = {});

  // Consumes `delta` and returns what is now certain. Holds back only bytes that could still
  // be the start of a tag (plus the one "\n" that would be stripped before `</think>`).
  Delta Push(std::string_view delta);

  // End of output: releases held-back bytes. Calling Push or Finish after Finish aborts.
  Delta Finish();

  // Input bytes examined so far; at most one per input byte (linear-time witness for tests).
  uint64_t bytes_scanned() const { return bytes_scanned_; }

 private:
  enum class State {
    kStart,          // byte 0 not yet decided: `<think>` or content?
    kReasoningLead,  // in reasoning, the optional leading "\n" not yet seen
    kReasoning,      // in reasoning, looking for `</think>`
    kContentLead,    // after `</think>`, dropping "\n"
    kContent,        // plain content until the end
  };

  void Feed(char c, Delta* out);
  void AssertNotFinished() const;

  State state_;
  TagMatcher start_{kThinkStart};
  TagMatcher end_{kThinkEnd};
  bool held_newline_ = false;  // a "\n" in reasoning that may precede `</think>`
  bool finished_ = false;
  uint64_t bytes_scanned_ = 0;
};

}  // namespace moeserve::parsers

#endif  // MOESERVE_ROUTER_PARSERS_REASONING_PARSER_H_
