// Runs a program and waits for it, without a shell (arguments are passed as
// they are, so paths with spaces or quotes need no escaping).
//
//   LIBRA_ASSIGN_OR_RETURN(int code, RunProgram({"/usr/bin/python3", "plot.py", path}));
#ifndef LIBRA_PAPERS_COMMON_SUBPROCESS_H_
#define LIBRA_PAPERS_COMMON_SUBPROCESS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace libra::papers {

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

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_SUBPROCESS_H_
