// Test support for the parsers: chunkings of a text, and streaming a chunked text through a
// stream parser while checking the OpenAI delta protocol, so tests can compare the
// concatenation of the stream with the one-shot parse.
//
// Shared by the unit tests, the libFuzzer entry and its gtest driver. Not thread-safe.
#ifndef MOESERVE_TESTS_ROUTER_PARSERS_STREAM_HARNESS_H_
#define MOESERVE_TESTS_ROUTER_PARSERS_STREAM_HARNESS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "router/parsers/output_parser.h"
#include "router/parsers/reasoning_parser.h"
#include "router/parsers/tool_call_parser.h"

namespace moeserve::parsers::testing {

using Chunks = std::vector<std::string_view>;

// Splits `text` at byte offsets `cuts` (non-decreasing, each <= size; equal cuts give empty
// chunks, which parsers must accept).
Chunks SplitAt(std::string_view text, const std::vector<size_t>& cuts);

// Which chunkings ForEachChunking enumerates.
struct ChunkingPlan {
  bool whole = true;               // one chunk
  bool single_splits = true;       // every 2-chunk split (n + 1 of them)
  size_t max_pair_split_len = 64;  // every 3-chunk split when size <= this (O(n^2) of them)
  bool bytewise = true;            // one byte per chunk
  bool charwise = true;            // one UTF-8 character per chunk
  int random_chunkings = 32;       // random chunk sizes in [0, 8], empty chunks included
  uint64_t seed = 1;
};

// Calls fn(chunks, label) for every chunking of `text` in `plan`; label names the chunking
// for failure messages.
void ForEachChunking(std::string_view text, const ChunkingPlan& plan,
                     const std::function<void(const Chunks&, const std::string&)>& fn);

// Offsets just past each UTF-8 lead-byte sequence (lenient on invalid input: every byte that
// is not a continuation byte starts a character).
std::vector<size_t> CharBoundaries(std::string_view text);

// True when `text` is well-formed UTF-8.
bool IsValidUtf8(std::string_view text);

// Streams chunks through each parser and concatenates the deltas. The Output/ToolCall
// versions check the delta protocol (headers in index order with id and name and empty
// arguments, fragments only for known indices) and that bytes_scanned() stays linear.
ReasoningResult StreamReasoning(const Chunks& chunks, const ReasoningOptions& options);
absl::StatusOr<ToolCallParseResult> StreamToolCalls(const Chunks& chunks,
                                                    ToolCallIdGenerator next_id);
absl::StatusOr<ParsedOutput> StreamOutput(const Chunks& chunks, const OutputParserOptions& options,
                                          ToolCallIdGenerator next_id);
// Also returns every delta (for UTF-8 and JSON checks on individual deltas).
absl::StatusOr<ParsedOutput> StreamOutput(const Chunks& chunks, const OutputParserOptions& options,
                                          ToolCallIdGenerator next_id,
                                          std::vector<OutputDelta>* deltas);

// Checks, for one chunking: each stream parser's concatenation equals its one-shot parse
// (with sequential ids), for the reasoning parser, the tool-call parser on the text as
// content, and the composed OutputParser. The error message says what differed.
absl::Status CheckStreamMatchesOneShot(std::string_view text, const Chunks& chunks,
                                       const OutputParserOptions& options);

// Human-readable form for failure messages.
std::string Describe(const ParsedOutput& output);

}  // namespace moeserve::parsers::testing

#endif  // MOESERVE_TESTS_ROUTER_PARSERS_STREAM_HARNESS_H_
