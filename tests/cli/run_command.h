// Runs a shell command from a CLI test and captures what it printed.
//
//   CommandResult run = RunCommand("src/cli/libra library ls " + dir + " 2>&1");
//   EXPECT_EQ(run.code, 0) << run.output;
#ifndef LIBRA_TESTS_CLI_RUN_COMMAND_H_
#define LIBRA_TESTS_CLI_RUN_COMMAND_H_

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace libra {

struct CommandResult {
  int code;            // exit status
  std::string output;  // stdout (and stderr when the command redirects it)
};

inline CommandResult RunCommand(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed: " + command};
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WEXITSTATUS(status), output};
}

}  // namespace libra

#endif  // LIBRA_TESTS_CLI_RUN_COMMAND_H_
