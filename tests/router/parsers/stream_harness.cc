#include "tests/router/parsers/stream_harness.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace moeserve::parsers::testing {
namespace {

// Generous constant for tiny inputs; the per-byte factors are the documented bounds.
constexpr uint64_t kScanSlack = 16;

std::string Quote(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Accumulates tool-call deltas into calls, checking the protocol.
absl::Status AddToolCallDeltas(const std::vector<ToolCallDelta>& deltas,
                               std::vector<ToolCall>* calls) {
  for (const ToolCallDelta& delta : deltas) {
    if (delta.is_header()) {
      if (delta.index != static_cast<int>(calls->size())) {
        return absl::InternalError(
            absl::StrCat("header index ", delta.index, " but ", calls->size(), " calls so far"));
      }
      if (!delta.name.has_value() || delta.name->empty()) {
        return absl::InternalError("header without a name");
      }
      if (!delta.arguments.empty()) {
        return absl::InternalError("header with non-empty arguments");
      }
      calls->push_back(ToolCall{.id = *delta.id, .name = *delta.name});
    } else {
      if (delta.name.has_value()) return absl::InternalError("fragment with a name");
      if (delta.index < 0 || delta.index >= static_cast<int>(calls->size())) {
        return absl::InternalError(absl::StrCat("fragment for unknown index ", delta.index));
      }
      (*calls)[delta.index].arguments += delta.arguments;
    }
  }
  return absl::OkStatus();
}

}  // namespace

Chunks SplitAt(std::string_view text, const std::vector<size_t>& cuts) {
  Chunks chunks;
  size_t prev = 0;
  for (size_t cut : cuts) {
    cut = std::clamp(cut, prev, text.size());
    chunks.push_back(text.substr(prev, cut - prev));
    prev = cut;
  }
  chunks.push_back(text.substr(prev));
  return chunks;
}

std::vector<size_t> CharBoundaries(std::string_view text) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) cuts.push_back(i);
  }
  return cuts;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = text[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = text[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

void ForEachChunking(std::string_view text, const ChunkingPlan& plan,
                     const std::function<void(const Chunks&, const std::string&)>& fn) {
  const size_t n = text.size();
  if (plan.whole) fn(Chunks{text}, "whole");
  if (plan.single_splits) {
    for (size_t i = 0; i <= n; ++i) fn(SplitAt(text, {i}), absl::StrCat("split@", i));
  }
  if (n <= plan.max_pair_split_len) {
    for (size_t i = 0; i <= n; ++i) {
      for (size_t j = i; j <= n; ++j) fn(SplitAt(text, {i, j}), absl::StrCat("split@", i, ",", j));
    }
  }
  if (plan.bytewise) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < n; ++i) cuts.push_back(i);
    fn(SplitAt(text, cuts), "bytewise");
  }
  if (plan.charwise) fn(SplitAt(text, CharBoundaries(text)), "charwise");
  std::mt19937_64 rng(plan.seed);
  for (int r = 0; r < plan.random_chunkings; ++r) {
    std::vector<size_t> cuts;
    std::uniform_int_distribution<size_t> size(0, 8);
    for (size_t pos = size(rng); pos < n; pos += size(rng)) cuts.push_back(pos);
    fn(SplitAt(text, cuts), absl::StrCat("random#", r, " seed ", plan.seed));
  }
}

ReasoningResult StreamReasoning(const Chunks& chunks, const ReasoningOptions& options) {
  ReasoningStreamParser parser(options);
  ReasoningResult result;
  auto add = [&](const ReasoningDelta& delta) {
    result.reasoning += delta.reasoning;
    result.content += delta.content;
  };
  for (std::string_view chunk : chunks) add(parser.Push(chunk));
  add(parser.Finish());
  return result;
}

absl::StatusOr<ToolCallParseResult> StreamToolCalls(const Chunks& chunks,
                                                    ToolCallIdGenerator next_id) {
  ToolCallStreamParser parser(std::move(next_id));
  ToolCallParseResult result;
  size_t total = 0;
  auto add = [&](const ToolCallStreamDelta& delta) {
    result.content += delta.content;
    return AddToolCallDeltas(delta.tool_calls, &result.tool_calls);
  };
  for (std::string_view chunk : chunks) {
    total += chunk.size();
    if (absl::Status s = add(parser.Push(chunk)); !s.ok()) return s;
  }
  if (absl::Status s = add(parser.Finish()); !s.ok()) return s;
  if (parser.bytes_scanned() > 3 * total + kScanSlack) {
    return absl::InternalError(absl::StrCat("tool-call parser scanned ", parser.bytes_scanned(),
                                            " bytes for ", total, " input bytes"));
  }
  return result;
}

absl::StatusOr<ParsedOutput> StreamOutput(const Chunks& chunks, const OutputParserOptions& options,
                                          ToolCallIdGenerator next_id,
                                          std::vector<OutputDelta>* deltas) {
  OutputParser parser(options, std::move(next_id));
  ParsedOutput result;
  size_t total = 0;
  auto add = [&](OutputDelta delta) {
    result.reasoning += delta.reasoning;
    result.content += delta.content;
    absl::Status status = AddToolCallDeltas(delta.tool_calls, &result.tool_calls);
    if (deltas != nullptr) deltas->push_back(std::move(delta));
    return status;
  };
  for (std::string_view chunk : chunks) {
    total += chunk.size();
    if (absl::Status s = add(parser.Push(chunk)); !s.ok()) return s;
  }
  if (absl::Status s = add(parser.Finish()); !s.ok()) return s;
  if (parser.bytes_scanned() > 4 * total + kScanSlack) {
    return absl::InternalError(absl::StrCat("output parser scanned ", parser.bytes_scanned(),
                                            " bytes for ", total, " input bytes"));
  }
  return result;
}

absl::StatusOr<ParsedOutput> StreamOutput(const Chunks& chunks, const OutputParserOptions& options,
                                          ToolCallIdGenerator next_id) {
  return StreamOutput(chunks, options, std::move(next_id), nullptr);
}

std::string Describe(const ParsedOutput& output) {
  std::vector<std::string> calls;
  for (const ToolCall& call : output.tool_calls) {
    calls.push_back(absl::StrCat("{id=", Quote(call.id), " name=", Quote(call.name),
                                 " arguments=", Quote(call.arguments), "}"));
  }
  return absl::StrCat("reasoning=", Quote(output.reasoning), " content=", Quote(output.content),
                      " tool_calls=[", absl::StrJoin(calls, ", "), "]");
}

absl::Status CheckStreamMatchesOneShot(std::string_view text, const Chunks& chunks,
                                       const OutputParserOptions& options) {
  const ReasoningResult reasoning_once = ParseReasoning(text, options.reasoning);
  const ReasoningResult reasoning_stream = StreamReasoning(chunks, options.reasoning);
  if (reasoning_stream != reasoning_once) {
    return absl::InternalError(
        absl::StrCat("reasoning: stream reasoning=", Quote(reasoning_stream.reasoning),
                     " content=", Quote(reasoning_stream.content), " vs one-shot reasoning=",
                     Quote(reasoning_once.reasoning), " content=", Quote(reasoning_once.content)));
  }

  const ToolCallParseResult calls_once = ParseToolCalls(text, MakeSequentialToolCallIdGenerator());
  absl::StatusOr<ToolCallParseResult> calls_stream =
      StreamToolCalls(chunks, MakeSequentialToolCallIdGenerator());
  if (!calls_stream.ok()) return calls_stream.status();
  if (*calls_stream != calls_once) {
    return absl::InternalError(absl::StrCat(
        "tool calls: stream ",
        Describe({.content = calls_stream->content, .tool_calls = calls_stream->tool_calls}),
        " vs one-shot ",
        Describe({.content = calls_once.content, .tool_calls = calls_once.tool_calls})));
  }

  const ParsedOutput once = ParseOutput(text, options, MakeSequentialToolCallIdGenerator());
  absl::StatusOr<ParsedOutput> stream =
      StreamOutput(chunks, options, MakeSequentialToolCallIdGenerator());
  if (!stream.ok()) return stream.status();
  if (*stream != once) {
    return absl::InternalError(
        absl::StrCat("output: stream ", Describe(*stream), " vs one-shot ", Describe(once)));
  }
  return absl::OkStatus();
}

}  // namespace moeserve::parsers::testing
