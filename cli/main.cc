// The `moeserve` command: one binary, one subcommand per task.
//
// Flags are read here and in each command's Run function, nowhere deeper. Exit codes: 0 success,
// 1 runtime failure, 2 bad input (one line on stderr).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(const std::vector<std::string>& args);
  const char* help;
};

const Command kCommands[] = {
    // Each command lives in cli/<name>_command.cc and is declared in cli/commands.h.
    {"version", moeserve::cli::RunVersion, "print the version"},
    {"generate", moeserve::cli::RunGenerate, "run one request on the in-process engine"},
    // MOESERVE_COMMANDS_BEGIN
    {"make-tiny-model", moeserve::cli::RunMakeTinyModel, "write a tiny random Qwen3-MoE model"},
    {"tokenize", moeserve::cli::RunTokenize, "JSON strings on stdin -> token id arrays"},
    {"detokenize", moeserve::cli::RunDetokenize, "token id arrays on stdin -> JSON strings"},
    {"render-chat", moeserve::cli::RunRenderChat, "render prompts with the chat template"},
    {"router", moeserve::cli::RunRouter, "run the router process of a cluster"},
    {"worker", moeserve::cli::RunWorker, "run an attention-worker process of a cluster"},
    {"expert", moeserve::cli::RunExpert, "run an expert-shard process of a cluster"},
    {"validate-config", moeserve::cli::RunValidateConfig, "check a cluster configuration file"},
    {"up", moeserve::cli::RunUp, "start a router, workers and expert shards and supervise them"},
    // MOESERVE_COMMANDS_END
};

void PrintUsage(FILE* out) {
  std::fprintf(out, "usage: moeserve <command> [flags]\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-16s %s\n", c.name, c.help);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
    PrintUsage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const Command& c : kCommands) {
    if (std::strcmp(c.name, argv[1]) == 0) return c.run(args);
  }
  std::fprintf(stderr, "moeserve: unknown command '%s' (try 'moeserve help')\n", argv[1]);
  return 2;
}
