// Entry points of the `moeserve` subcommands. Each returns the process exit code
// (0 ok, 1 runtime failure, 2 bad input with one line on stderr).
#ifndef MOESERVE_CLI_COMMANDS_H_
#define MOESERVE_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace moeserve::cli {

int RunVersion(const std::vector<std::string>& args);
int RunGenerate(const std::vector<std::string>& args);
// MOESERVE_COMMAND_DECLS_BEGIN
int RunMakeTinyModel(const std::vector<std::string>& args);
int RunTokenize(const std::vector<std::string>& args);
int RunDetokenize(const std::vector<std::string>& args);
int RunRenderChat(const std::vector<std::string>& args);
int RunRouter(const std::vector<std::string>& args);
int RunWorker(const std::vector<std::string>& args);
int RunExpert(const std::vector<std::string>& args);
int RunValidateConfig(const std::vector<std::string>& args);
int RunUp(const std::vector<std::string>& args);
// MOESERVE_COMMAND_DECLS_END

}  // namespace moeserve::cli

#endif  // MOESERVE_CLI_COMMANDS_H_
