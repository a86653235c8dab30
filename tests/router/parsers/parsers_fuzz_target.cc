#include "tests/router/parsers/parsers_fuzz_target.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tests/router/parsers/stream_harness.h"

namespace moeserve::parsers::testing {

FuzzCase DecodeFuzzInput(const uint8_t* data, size_t size) {
  FuzzCase fuzz_case;
  const uint8_t flags = size > 0 ? data[0] : 0;
  fuzz_case.options.reasoning.thinking_enabled = (flags & 1) != 0;
  fuzz_case.options.reasoning.prompt_opened_think = (flags & 2) != 0;
  fuzz_case.options.parse_tool_calls = (flags & 4) != 0;
  const bool bytewise_tail = (flags & 8) != 0;
  size_t pos = std::min<size_t>(size, 1);
  size_t k = pos < size ? data[pos++] : 0;
  k = std::min(k, size - pos);
  const uint8_t* lengths = data + pos;
  pos += k;
  fuzz_case.text = std::string_view(reinterpret_cast<const char*>(data) + pos, size - pos);
  size_t cut = 0;
  for (size_t i = 0; i < k; ++i) {
    cut = std::min(cut + (lengths[i] & 31), fuzz_case.text.size());
    fuzz_case.cuts.push_back(cut);
  }
  if (bytewise_tail) {
    for (size_t c = cut + 1; c < fuzz_case.text.size(); ++c) fuzz_case.cuts.push_back(c);
  }
  return fuzz_case;
}

std::string EncodeFuzzInput(const OutputParserOptions& options,
                            const std::vector<uint8_t>& chunk_lengths, bool bytewise_tail,
                            std::string_view text) {
  std::string out;
  out.push_back(static_cast<char>((options.reasoning.thinking_enabled ? 1 : 0) |
                                  (options.reasoning.prompt_opened_think ? 2 : 0) |
                                  (options.parse_tool_calls ? 4 : 0) | (bytewise_tail ? 8 : 0)));
  const size_t k = std::min<size_t>(chunk_lengths.size(), 255);
  out.push_back(static_cast<char>(k));
  for (size_t i = 0; i < k; ++i) out.push_back(static_cast<char>(chunk_lengths[i] & 31));
  out.append(text);
  return out;
}

namespace {

std::string Dump(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::Status CheckInvariants(const FuzzCase& c, const ParsedOutput& out) {
  if (out.reasoning.size() + out.content.size() > c.text.size()) {
    return absl::InternalError("reasoning + content longer than the text");
  }
  if (!c.options.reasoning.thinking_enabled && out.reasoning.size() > 0) {
    return absl::InternalError("reasoning with thinking disabled");
  }
  if (!c.options.reasoning.thinking_enabled && !c.options.parse_tool_calls &&
      out.content != c.text) {
    return absl::InternalError("thinking and tools off, but content != text");
  }
  if (!c.options.parse_tool_calls && !out.tool_calls.empty()) {
    return absl::InternalError("tool calls with tool parsing off");
  }
  for (size_t i = 0; i < out.tool_calls.size(); ++i) {
    const ToolCall& call = out.tool_calls[i];
    if (call.id != absl::StrCat("call_", i)) return absl::InternalError("ids out of order");
    if (call.name.empty()) return absl::InternalError("tool call without a name");
    if (!IsValidUtf8(call.name) || !IsValidUtf8(call.arguments)) {
      return absl::InternalError("tool call name or arguments not valid UTF-8");
    }
    if (!ParseToolCallBody(absl::StrCat(R"({"name":)", Dump(call.name), R"(,"arguments":)",
                                        Dump(call.arguments), "}"))
             .has_value()) {
      return absl::InternalError("a recognized call does not round-trip");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckParsersOnFuzzInput(const uint8_t* data, size_t size) {
  const FuzzCase c = DecodeFuzzInput(data, size);
  const Chunks chunks = SplitAt(c.text, c.cuts);
  if (absl::Status s = CheckStreamMatchesOneShot(c.text, chunks, c.options); !s.ok()) return s;

  const ParsedOutput once = ParseOutput(c.text, c.options, MakeSequentialToolCallIdGenerator());
  if (absl::Status s = CheckInvariants(c, once); !s.ok()) return s;
  try {
    (void)ToJson(once).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("ToJson(message) threw: ", e.what()));
  }

  // Whole UTF-8 characters in, valid UTF-8 deltas out.
  if (IsValidUtf8(c.text)) {
    std::vector<OutputDelta> deltas;
    absl::StatusOr<ParsedOutput> streamed =
        StreamOutput(SplitAt(c.text, CharBoundaries(c.text)), c.options,
                     MakeSequentialToolCallIdGenerator(), &deltas);
    if (!streamed.ok()) return streamed.status();
    for (const OutputDelta& delta : deltas) {
      if (!IsValidUtf8(delta.reasoning) || !IsValidUtf8(delta.content)) {
        return absl::InternalError("a delta of whole characters is not valid UTF-8");
      }
      for (const ToolCallDelta& call : delta.tool_calls) {
        if (!IsValidUtf8(call.arguments) || !IsValidUtf8(call.name.value_or(""))) {
          return absl::InternalError("tool-call delta is not valid UTF-8");
        }
      }
      try {
        (void)ToJson(delta).dump();  // strict: throws on invalid UTF-8
      } catch (const std::exception& e) {
        return absl::InternalError(absl::StrCat("ToJson(delta) threw: ", e.what()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace moeserve::parsers::testing
