#include "router/parsers/tool_call_parser.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <utility>

#include "nlohmann/json.hpp"

namespace moeserve::parsers {
namespace {

bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// True when brackets outside strings nest deeper than kMaxToolCallJsonDepth. Linear; does not
// validate anything else (the JSON parser does).
bool TooDeep(std::string_view body) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxToolCallJsonDepth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

}  // namespace

ToolCallIdGenerator MakeRandomToolCallIdGenerator() {
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [rng]() {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
    std::string id = "call_";
    for (int i = 0; i < 24; ++i) id.push_back(kAlphabet[pick(*rng)]);
    return id;
  };
}

ToolCallIdGenerator MakeSequentialToolCallIdGenerator(std::string prefix) {
  auto counter = std::make_shared<uint64_t>(0);
  return [prefix = std::move(prefix), counter]() { return prefix + std::to_string((*counter)++); };
}

std::optional<ToolCall> ParseToolCallBody(std::string_view body) {
  if (TooDeep(body)) return std::nullopt;
  try {
    const auto json = nlohmann::ordered_json::parse(body, /*cb=*/nullptr,
                                                    /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) return std::nullopt;
    const auto name = json.find("name");
    if (name == json.end() || !name->is_string()) return std::nullopt;
    ToolCall call;
    call.name = name->get<std::string>();
    if (call.name.empty()) return std::nullopt;
    const auto arguments = json.find("arguments");
    if (arguments == json.end() || arguments->is_null()) {
      call.arguments = "{}";
    } else if (arguments->is_string()) {
      call.arguments = arguments->get<std::string>();
    } else if (arguments->is_object()) {
      call.arguments = arguments->dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                                       nlohmann::ordered_json::error_handler_t::replace);
    } else {
      return std::nullopt;
    }
    return call;
  } catch (const std::exception&) {
    // The parser is called without exceptions; this only guards library corner cases so that
    // a bad block can never escape as an exception. It stays content.
    return std::nullopt;
  }
}

ToolCallParseResult ParseToolCalls(std::string_view content, const ToolCallIdGenerator& next_id) {
  ToolCallParseResult result;
  size_t pos = 0;  // everything before pos is decided
  while (pos < content.size()) {
    const size_t start = content.find(kToolCallStart, pos);
    if (start == std::string_view::npos) break;
    const size_t body_begin = start + kToolCallStart.size();
    const size_t end = content.find(kToolCallEnd, body_begin);
    if (end == std::string_view::npos) break;  // unclosed: stays content
    const size_t block_end = end + kToolCallEnd.size();
    std::optional<ToolCall> call = ParseToolCallBody(content.substr(body_begin, end - body_begin));
    if (!call.has_value()) {
      result.content.append(content.substr(pos, block_end - pos));
      pos = block_end;
      continue;
    }
    result.content.append(content.substr(pos, start - pos));
    call->id = next_id();
    result.tool_calls.push_back(std::move(*call));
    pos = block_end;
    while (pos < content.size() && IsJsonWhitespace(content[pos])) ++pos;
  }
  result.content.append(content.substr(pos));
  return result;
}

ToolCallStreamParser::ToolCallStreamParser(ToolCallIdGenerator next_id)
    : next_id_(std::move(next_id)) {}

void ToolCallStreamParser::AssertNotFinished() const {
  if (finished_) {
    std::fputs("ToolCallStreamParser: Push or Finish after Finish\n", stderr);
    std::abort();
  }
}

ToolCallStreamParser::Delta ToolCallStreamParser::Push(std::string_view delta) {
  AssertNotFinished();
  Delta out;
  for (char c : delta) Feed(c, &out);
  bytes_scanned_ += delta.size();
  return out;
}

void ToolCallStreamParser::Feed(char c, Delta* out) {
  switch (state_) {
    case State::kAfterCall:
      if (IsJsonWhitespace(c)) return;
      state_ = State::kText;
      [[fallthrough]];
    case State::kText:
      if (start_.Continues(c)) {
        if (start_.Advance()) {
          state_ = State::kInCall;
          block_.clear();
        }
        return;
      }
      start_.Release(&out->content);
      if (start_.Continues(c)) {
        start_.Advance();  // c == '<' starts a new candidate
      } else {
        out->content.push_back(c);
      }
      return;
    case State::kInCall:
      block_.push_back(c);
      if (end_.Continues(c)) {
        if (end_.Advance()) CloseBlock(out);
      } else {
        end_.Reset();  // the candidate's bytes are already in block_
        if (end_.Continues(c)) end_.Advance();
      }
      return;
  }
}

void ToolCallStreamParser::CloseBlock(Delta* out) {
  const std::string_view body =
      std::string_view(block_).substr(0, block_.size() - kToolCallEnd.size());
  bytes_scanned_ += 2 * body.size();  // depth pre-scan + JSON parse
  std::optional<ToolCall> call = ParseToolCallBody(body);
  if (!call.has_value()) {
    out->content.append(kToolCallStart);
    out->content.append(block_);
    state_ = State::kText;
  } else {
    const int index = next_index_++;
    out->tool_calls.push_back(
        ToolCallDelta{.index = index, .id = next_id_(), .name = std::move(call->name)});
    if (!call->arguments.empty()) {
      out->tool_calls.push_back(
          ToolCallDelta{.index = index, .arguments = std::move(call->arguments)});
    }
    state_ = State::kAfterCall;
  }
  block_.clear();
}

ToolCallStreamParser::Delta ToolCallStreamParser::Finish() {
  AssertNotFinished();
  finished_ = true;
  Delta out;
  switch (state_) {
    case State::kText:
      start_.Release(&out.content);
      break;
    case State::kInCall:
      out.content.append(kToolCallStart);
      out.content.append(block_);
      block_.clear();
      break;
    case State::kAfterCall:
      break;
  }
  return out;
}

}  // namespace moeserve::parsers
