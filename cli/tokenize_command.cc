// `moeserve tokenize` and `moeserve detokenize`: line-oriented JSON filters over the tokenizer.
//
//   moeserve tokenize --tokenizer DIR [--no-special]     one JSON string per line in,
//                                                         one JSON array of ids per line out
//   moeserve detokenize --tokenizer DIR [--skip-special] one JSON array of ids per line in,
//                                                         one JSON string per line out
//
// Input is read in blocks; the output for every complete line of a block is written before the
// next read, so the commands both stream interactively and run fast over big files.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "nlohmann/json.hpp"
#include "router/tokenizer/tokenizer.h"

namespace moeserve::cli {
namespace {

struct Flags {
  std::string tokenizer_dir;
  bool special = true;  // tokenize: recognize special tokens; detokenize: keep them.
};

// Parses the flags; prints one line to stderr and returns false on bad input.
bool ParseFlags(const char* command, const char* special_flag, const std::vector<std::string>& args,
                Flags* flags) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--tokenizer" && i + 1 < args.size()) {
      flags->tokenizer_dir = args[++i];
    } else if (arg.rfind("--tokenizer=", 0) == 0) {
      flags->tokenizer_dir = arg.substr(std::string("--tokenizer=").size());
    } else if (arg == special_flag) {
      flags->special = false;
    } else {
      std::fprintf(stderr, "moeserve %s: unknown or incomplete flag '%s'\n", command, arg.c_str());
      return false;
    }
  }
  if (flags->tokenizer_dir.empty()) {
    std::fprintf(stderr, "moeserve %s: --tokenizer DIR is required\n", command);
    return false;
  }
  return true;
}

// Runs `handle(line, &out)` for every line of stdin (without its '\n'), writing `out` to stdout
// after each block read. `handle` returns false to stop with exit code 2.
template <typename Handler>
int ForEachLine(Handler handle) {
  std::string buffer, out;
  std::vector<char> block(1 << 16);
  bool eof = false;
  while (!eof) {
    ssize_t n = read(STDIN_FILENO, block.data(), block.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::perror("moeserve: reading stdin");
      return 1;
    }
    if (n == 0) {
      eof = true;
      if (!buffer.empty()) buffer.push_back('\n');  // A last line without its newline.
    } else {
      buffer.append(block.data(), static_cast<size_t>(n));
    }
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(buffer.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!handle(line, &out)) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
        return 2;
      }
    }
    buffer.erase(0, start);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    out.clear();
  }
  return 0;
}

std::unique_ptr<tokenizer::Tokenizer> Load(const char* command, const std::string& dir) {
  auto loaded = tokenizer::Tokenizer::FromFile(dir);
  if (!loaded.ok()) {
    std::fprintf(stderr, "moeserve %s: %s\n", command, loaded.status().ToString().c_str());
    return nullptr;
  }
  return *std::move(loaded);
}

}  // namespace

int RunTokenize(const std::vector<std::string>& args) {
  Flags flags;
  if (!ParseFlags("tokenize", "--no-special", args, &flags)) return 2;
  std::unique_ptr<tokenizer::Tokenizer> tok = Load("tokenize", flags.tokenizer_dir);
  if (!tok) return 2;
  size_t line_number = 0;
  return ForEachLine([&](std::string_view line, std::string* out) {
    ++line_number;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_string()) {
      std::fprintf(stderr, "moeserve tokenize: line %zu is not a JSON string\n", line_number);
      return false;
    }
    std::vector<int32_t> ids = tok->Encode(j.get_ref<const std::string&>(), flags.special);
    out->push_back('[');
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out->push_back(',');
      out->append(std::to_string(ids[i]));
    }
    out->append("]\n");
    return true;
  });
}

int RunDetokenize(const std::vector<std::string>& args) {
  Flags flags;
  if (!ParseFlags("detokenize", "--skip-special", args, &flags)) return 2;
  std::unique_ptr<tokenizer::Tokenizer> tok = Load("detokenize", flags.tokenizer_dir);
  if (!tok) return 2;
  size_t line_number = 0;
  return ForEachLine([&](std::string_view line, std::string* out) {
    ++line_number;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::vector<int32_t> ids;
    bool ok = !j.is_discarded() && j.is_array();
    for (size_t i = 0; ok && i < j.size(); ++i) {
      const nlohmann::json& v = j[i];
      ok = v.is_number_integer() && v.get<int64_t>() >= INT32_MIN && v.get<int64_t>() <= INT32_MAX;
      if (ok) ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    if (!ok) {
      std::fprintf(stderr, "moeserve detokenize: line %zu is not a JSON array of token ids\n",
                   line_number);
      return false;
    }
    absl::StatusOr<std::string> text = tok->Decode(ids, /*skip_special=*/!flags.special);
    if (!text.ok()) {
      std::fprintf(stderr, "moeserve detokenize: line %zu: %s\n", line_number,
                   std::string(text.status().message()).c_str());
      return false;
    }
    out->append(nlohmann::json(*text).dump());
    out->push_back('\n');
    return true;
  });
}

}  // namespace moeserve::cli
