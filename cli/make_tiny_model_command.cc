// `moeserve make-tiny-model --out DIR [--seed N] [--tokenizer DIR] [--layers N]
//                           [--shard-mb N]`
//
// Writes a deterministic random Qwen3-MoE checkpoint (see common/tiny_model.h) in Hugging Face
// layout. The Qwen3 tokenizer files are copied from --tokenizer, or by default from
// .cache/qwen3-tokenizer/ found above the executable or the current directory; when the default
// is not there the model is written without them and stderr says so.
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/default_tokenizer.h"
#include "common/tiny_model.h"

namespace moeserve::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kUsage[] =
    "usage: moeserve make-tiny-model --out DIR [--seed N] [--tokenizer DIR] [--layers N] "
    "[--shard-mb N]";

bool HasTokenizer(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "tokenizer.json", ec) &&
         fs::is_regular_file(dir / "tokenizer_config.json", ec);
}

template <typename T>
bool ParseNumber(const std::string& s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

int BadInput(const std::string& message) {
  std::fprintf(stderr, "moeserve make-tiny-model: %s\n", message.c_str());
  return 2;
}

}  // namespace

int RunMakeTinyModel(const std::vector<std::string>& args) {
  TinyModelOptions options;
  std::string out_dir;
  std::optional<std::string> tokenizer;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> value;
    if (const size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag == "--help" || flag == "-h") {
      std::printf("%s\n", kUsage);
      return 0;
    }
    const bool known = flag == "--out" || flag == "--seed" || flag == "--tokenizer" ||
                       flag == "--layers" || flag == "--shard-mb";
    if (!known) return BadInput("unknown argument '" + args[i] + "' (" + kUsage + ")");
    if (!value) {
      if (i + 1 >= args.size()) return BadInput(flag + " needs a value");
      value = args[++i];
    }
    if (flag == "--out") {
      if (value->empty()) return BadInput("--out needs a directory");
      out_dir = *value;
    } else if (flag == "--seed") {
      if (!ParseNumber(*value, options.seed)) {
        return BadInput("--seed must be a non-negative integer (got '" + *value + "')");
      }
    } else if (flag == "--tokenizer") {
      tokenizer = *value;
    } else if (flag == "--layers") {
      if (!ParseNumber(*value, options.num_hidden_layers) || options.num_hidden_layers < 1 ||
          options.num_hidden_layers > 1000) {
        return BadInput("--layers must be an integer in [1, 1000] (got '" + *value + "')");
      }
    } else if (flag == "--shard-mb") {
      int64_t mb = 0;
      if (!ParseNumber(*value, mb) || mb < 0 || mb > (int64_t{1} << 30)) {
        return BadInput("--shard-mb must be a non-negative integer (got '" + *value + "')");
      }
      options.max_shard_bytes = mb * 1000 * 1000;
    }
  }
  if (out_dir.empty()) return BadInput(std::string("--out is required (") + kUsage + ")");

  if (tokenizer) {
    if (!HasTokenizer(*tokenizer)) {
      return BadInput("--tokenizer " + *tokenizer +
                      ": no tokenizer.json and tokenizer_config.json there");
    }
    options.tokenizer_dir = *tokenizer;
  } else if (std::optional<fs::path> found = FindDefaultQwen3Tokenizer()) {
    options.tokenizer_dir = found->string();
  } else {
    std::fprintf(stderr,
                 "moeserve make-tiny-model: Qwen3 tokenizer not found (.cache/qwen3-tokenizer; "
                 "run scripts/setup or pass --tokenizer DIR): writing the model without "
                 "tokenizer files\n");
  }

  absl::StatusOr<TinyModelSummary> summary = WriteTinyModel(options, out_dir);
  if (!summary.ok()) {
    std::fprintf(stderr, "moeserve make-tiny-model: %s\n",
                 std::string(summary.status().message()).c_str());
    return summary.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::printf(
      "wrote a tiny Qwen3-MoE model to %s: %lld tensors, %.1f MB of BF16 weights (%zu "
      "files), seed %llu, %s%s\n",
      out_dir.c_str(), static_cast<long long>(summary->tensors),
      static_cast<double>(summary->weight_bytes) / 1e6, summary->files.size(),
      static_cast<unsigned long long>(options.seed),
      summary->wrote_tokenizer ? "tokenizer from " : "no tokenizer",
      summary->wrote_tokenizer ? options.tokenizer_dir.c_str() : "");
  return 0;
}

}  // namespace moeserve::cli
