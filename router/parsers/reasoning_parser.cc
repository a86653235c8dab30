#include "router/parsers/reasoning_parser.h"

#include <cstdio>
#include <cstdlib>

namespace moeserve::parsers {

ReasoningResult ParseReasoning(std::string_view text, const ReasoningOptions& options) {
  ReasoningResult result;
  std::string_view rest;
  if (!options.thinking_enabled) {
    result.content = std::string(text);
    return result;
  }
  if (options.prompt_opened_think) {
    rest = text;
  } else if (text.substr(0, kThinkStart.size()) == kThinkStart) {
    rest = text.substr(kThinkStart.size());
  } else {
    result.content = std::string(text);
    return result;
  }
  if (!rest.empty() && rest.front() == '\n') rest.remove_prefix(1);
  const size_t end = rest.find(kThinkEnd);
  if (end == std::string_view::npos) {
    result.reasoning = std::string(rest);
    return result;
  }
  std::string_view reasoning = rest.substr(0, end);
  if (!reasoning.empty() && reasoning.back() == '\n') reasoning.remove_suffix(1);
  std::string_view content = rest.substr(end + kThinkEnd.size());
  while (!content.empty() && content.front() == '\n') content.remove_prefix(1);
  result.reasoning = std::string(reasoning);
  result.content = std::string(content);
  return result;
}

ReasoningStreamParser::ReasoningStreamParser(const ReasoningOptions& options)
    : state_(!options.thinking_enabled     ? State::kContent
             : options.prompt_opened_think ? State::kReasoningLead
                                           : State::kStart) {}

void ReasoningStreamParser::AssertNotFinished() const {
  if (finished_) {
    std::fputs("ReasoningStreamParser: Push or Finish after Finish\n", stderr);
    std::abort();
  }
}

ReasoningStreamParser::Delta ReasoningStreamParser::Push(std::string_view delta) {
  AssertNotFinished();
  Delta out;
  size_t i = 0;
  for (; i < delta.size() && state_ != State::kContent; ++i) Feed(delta[i], &out);
  // Plain content needs no scanning: the rest of the delta is released as is.
  out.content.append(delta.substr(i));
  bytes_scanned_ += i;
  return out;
}

void ReasoningStreamParser::Feed(char c, Delta* out) {
  switch (state_) {
    case State::kStart:
      if (start_.Continues(c)) {
        if (start_.Advance()) state_ = State::kReasoningLead;
        return;
      }
      // Not `<think>` at byte 0: the whole output is content, verbatim.
      start_.Release(&out->content);
      out->content.push_back(c);
      state_ = State::kContent;
      return;
    case State::kReasoningLead:
      state_ = State::kReasoning;
      if (c == '\n') return;
      [[fallthrough]];
    case State::kReasoning:
      if (end_.Continues(c)) {
        if (end_.Advance()) {
          held_newline_ = false;  // the "\n" before `</think>` is stripped
          state_ = State::kContentLead;
        }
        return;
      }
      // The candidate (if any) is reasoning text, and so is a held "\n" before it.
      if (held_newline_) out->reasoning.push_back('\n');
      held_newline_ = false;
      end_.Release(&out->reasoning);
      if (end_.Continues(c)) {
        end_.Advance();  // c == '<' starts a new candidate
      } else if (c == '\n') {
        held_newline_ = true;
      } else {
        out->reasoning.push_back(c);
      }
      return;
    case State::kContentLead:
      if (c == '\n') return;
      state_ = State::kContent;
      out->content.push_back(c);
      return;
    case State::kContent:
      out->content.push_back(c);
      return;
  }
}

ReasoningStreamParser::Delta ReasoningStreamParser::Finish() {
  AssertNotFinished();
  finished_ = true;
  Delta out;
  switch (state_) {
    case State::kStart:
      start_.Release(&out.content);  // a proper prefix of `<think>` is just text
      break;
    case State::kReasoning:
      if (held_newline_) out.reasoning.push_back('\n');
      end_.Release(&out.reasoning);
      break;
    case State::kReasoningLead:
    case State::kContentLead:
    case State::kContent:
      break;
  }
  return out;
}

}  // namespace moeserve::parsers
