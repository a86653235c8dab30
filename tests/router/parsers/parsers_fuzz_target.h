// The parsers' fuzz property, shared by the libFuzzer binary (parsers_fuzzer.cc, clang only)
// and a gtest driver that runs it over seeds and seeded random inputs in every build.
//
// Fuzz input layout (every byte string is a valid input):
//   byte 0      flags: bit0 thinking_enabled, bit1 prompt_opened_think, bit2 parse_tool_calls,
//               bit3 after the explicit chunks, split the rest of the text into single bytes
//   byte 1      k, the number of explicit chunk lengths that follow (clamped to what is left)
//   k bytes     chunk lengths, each (byte & 31), taken from the start of the text in order
//   the rest    the model output text (arbitrary bytes, not necessarily UTF-8)
#ifndef MOESERVE_TESTS_ROUTER_PARSERS_PARSERS_FUZZ_TARGET_H_
#define MOESERVE_TESTS_ROUTER_PARSERS_PARSERS_FUZZ_TARGET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "router/parsers/output_parser.h"

namespace moeserve::parsers::testing {

struct FuzzCase {
  OutputParserOptions options;
  std::vector<size_t> cuts;  // byte offsets into text, non-decreasing
  std::string_view text;     // points into the fuzz input
};

FuzzCase DecodeFuzzInput(const uint8_t* data, size_t size);

// Inverse of DecodeFuzzInput (chunk lengths are taken & 31; at most 255 of them).
std::string EncodeFuzzInput(const OutputParserOptions& options,
                            const std::vector<uint8_t>& chunk_lengths, bool bytewise_tail,
                            std::string_view text);

// Checks, on the decoded case: stream == one-shot for the reasoning parser, the tool-call
// parser and OutputParser (CheckStreamMatchesOneShot), linear bytes_scanned, the delta
// protocol, and invariants that hold for any text: nothing is invented (reasoning + content
// are no longer than the text), with thinking and tools off the content is the text, tool
// calls have sequential ids and non-empty names, the JSON helpers never throw, and for valid
// UTF-8 text cut at character boundaries every delta is valid UTF-8.
absl::Status CheckParsersOnFuzzInput(const uint8_t* data, size_t size);

}  // namespace moeserve::parsers::testing

#endif  // MOESERVE_TESTS_ROUTER_PARSERS_PARSERS_FUZZ_TARGET_H_
