// Shared helpers for the tokenizer tests: the Qwen3 tokenizer from the setup cache and the golden
// files under tests/data/tokenizer/.
#ifndef MOESERVE_TESTS_ROUTER_TOKENIZER_TEST_UTIL_H_
#define MOESERVE_TESTS_ROUTER_TOKENIZER_TEST_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "router/tokenizer/tokenizer.h"

namespace moeserve::tokenizer::testing {

// Path of Qwen3's tokenizer.json in the npm data cache.
std::string QwenTokenizerPath();
// Path of a file under tests/data/tokenizer/.
std::string GoldenPath(const std::string& name);
// Whole file contents; empty optional when unreadable.
std::optional<std::string> ReadFile(const std::string& path);

// The Qwen3 tokenizer, loaded once per process; nullptr when the cache is missing.
const Tokenizer* Qwen();

struct Golden {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<int32_t> ids_no_special;  // Equal to ids unless the file says otherwise.
  std::string decoded;                  // Decode(ids).
  std::string decoded_skip_special;     // Decode(ids, skip_special=true).
};
// Reads a golden .jsonl file (see tools/tokenizer/make_goldens.js).
std::vector<Golden> ReadGoldens(const std::string& name);

}  // namespace moeserve::tokenizer::testing

#endif  // MOESERVE_TESTS_ROUTER_TOKENIZER_TEST_UTIL_H_
