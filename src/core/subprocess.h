// Runs programs without a shell (arguments are passed as they are, so paths
// with spaces or quotes need no escaping): one at a time, several at once,
// or started here and waited for by the caller (the data-parallel launcher).
//
//   LIBRA_ASSIGN_OR_RETURN(int code, RunProgram({"/usr/bin/python3", "plot.py", path}));
#ifndef LIBRA_CORE_SUBPROCESS_H_
#define LIBRA_CORE_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace libra {

struct StartOptions {
  // The file to execute; empty: argv[0], looked up in PATH.
  std::string program;
  // Variables set for the child over the inherited environment.
  std::vector<std::pair<std::string, std::string>> env;
  // >= 0: the child's stdout goes there and its stderr to /dev/null.
  int stdout_fd = -1;
};

// Starts argv and returns its process id; the caller waits for it
// (WaitProgram or waitpid). Fails when it cannot be started.
absl::StatusOr<pid_t> StartProgram(const std::vector<std::string>& argv,
                                   const StartOptions& options = {});

// Waits for `pid`; its exit code (128 + signal when killed).
absl::StatusOr<int> WaitProgram(pid_t pid, const std::string& program);

// The program's exit code (128 + signal when killed). Fails when it cannot
// be started. stdout and stderr are inherited.
absl::StatusOr<int> RunProgram(const std::vector<std::string>& argv);

// Starts every program at once, then waits for all of them; returns their
// exit codes in order. Fails when one cannot be started (after waiting for
// those already running).
absl::StatusOr<std::vector<int>> RunProgramsTogether(
    const std::vector<std::vector<std::string>>& argvs);

// Runs argv and returns its stdout (stderr is discarded); fails on a non-zero exit.
absl::StatusOr<std::string> CaptureProgram(const std::vector<std::string>& argv);

}  // namespace libra

#endif  // LIBRA_CORE_SUBPROCESS_H_
