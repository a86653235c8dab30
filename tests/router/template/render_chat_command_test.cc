// Runs the `moeserve render-chat` binary end to end: flags, output format, error lines and
// exit codes.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <unistd.h>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

struct Result {
  int exit_code;
  std::string out;
  std::string err;
};

Result RunCli(const std::string& args, const std::string& input) {
  // Unique per test and process: ctest runs this binary's tests in parallel.
  const std::string dir = testing::TempDir() + "/render_chat_" +
                          testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
                          std::to_string(getpid());
  const std::string in = dir + "_in.jsonl", out = dir + "_out", err = dir + "_err";
  std::ofstream(in) << input;
  std::string cmd =
      std::string(MOESERVE_BIN) + " render-chat " + args + " < " + in + " > " + out + " 2> " + err;
  int status = std::system(cmd.c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream f(p);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  return {WEXITSTATUS(status), slurp(out), slurp(err)};
}

const std::string kTokenizer =
    std::string(MOESERVE_SOURCE_DIR) + "/tests/data/template/qwen3_tokenizer_config.json";

TEST(RenderChatCommand, RendersOneJsonStringPerLine) {
  Result r = RunCli(
      "--tokenizer " + kTokenizer,
      R"({"messages":[{"role":"user","content":"hé /no_think"}],"add_generation_prompt":true,"enable_thinking":false})"
      "\n\n"
      R"({"messages":[{"role":"user","content":"x"}],"chat_template_kwargs":{"enable_thinking":true}})"
      "\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "\"<|im_start|>user\\nhé /no_think<|im_end|>\\n<|im_start|>assistant\\n<think>\\n\\n"
            "</think>\\n\\n\"\n\"<|im_start|>user\\nx<|im_end|>\\n\"\n");
  EXPECT_EQ(r.err, "");
}

TEST(RenderChatCommand, BadLinesContinueAndExit2) {
  Result r = RunCli("--tokenizer=" + kTokenizer,
                    "not json\n"
                    R"({"messages":[]})"
                    "\n"
                    R"({"messages":[{"role":"user","content":"ok"}]})"
                    "\n"
                    R"({"messages":[{"role":"user","content":"ok"}],"bogus":1})"
                    "\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "null\nnull\n\"<|im_start|>user\\nok<|im_end|>\\n\"\nnull\n");
  int lines = 0;
  for (char c : r.err) lines += c == '\n';
  EXPECT_EQ(lines, 3) << r.err;
  EXPECT_NE(r.err.find("line 1:"), std::string::npos);
  EXPECT_NE(r.err.find("line 4: unknown field \"bogus\""), std::string::npos);
}

TEST(RenderChatCommand, BadFlagsExit2WithOneLine) {
  for (const std::string& args :
       {std::string(""), std::string("--tokenizer /nonexistent"), std::string("--frobnicate")}) {
    Result r = RunCli(args, "");
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_EQ(r.out, "") << args;
    ASSERT_FALSE(r.err.empty()) << args;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  }
}

}  // namespace
