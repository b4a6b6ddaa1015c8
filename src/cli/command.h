// A `libra` subcommand: its name, a one-line summary, usage, and a Run
// function taking the positional arguments left after flag parsing.
//
// Each command lives in its own <name>_command.cc, defines its flags there
// with ABSL_FLAG (so `libra CMD --help` can list exactly that file's flags),
// and is listed in commands.cc. Run returns an exit code: kExitOk, kExitFailure
// (the operation failed) or kExitUsage (bad arguments).
#ifndef LIBRA_CLI_COMMAND_H_
#define LIBRA_CLI_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace libra::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  const char* name;        // "library", "merge", ...
  const char* summary;     // one line for `libra --help`
  const char* usage;       // "libra merge DIR --method M ..."
  const char* flags_file;  // source file whose ABSL_FLAGs belong to this command
  const char* shared_flags;  // comma-separated names from common_flags.h it reads
  // Null in `libra` for the LibTorch commands, which run in `libra-nn`.
  int (*run)(const std::vector<std::string>& args);
};

// The explicit list of commands (commands.cc); no self-registration.
absl::Span<const Command> AllCommands();

// Process settings applied before a command runs: glibc's allocator in
// `libra`; also LibTorch's and OpenBLAS's threads in `libra-nn`
// (process_torch_free.cc / process_torch.cc). Returns the thread count.
int ConfigureProcess(int threads);

// Prints "libra: error: <message>" to stderr and returns `exit_code`.
int ReportError(const absl::Status& status, int exit_code = kExitFailure);
int UsageError(const std::string& message);

}  // namespace libra::cli

#endif  // LIBRA_CLI_COMMAND_H_
