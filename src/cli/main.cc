// libra: the command-line entry point. Dispatches `libra CMD ...` to the
// command's Run after parsing its flags with abseil. Built twice (BUILD):
// `libra` without LibTorch, handing train, eval and generate to `libra-nn`.
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "src/cli/command.h"
#include "src/core/exception_barrier.h"

ABSL_FLAG(int, threads, 0, "Compute threads (0: all cores).");

namespace libra::cli {
namespace {

constexpr char kTorchBinary[] = "libra-nn";

void PrintTopLevelHelp() {
  std::printf("libra: a library of reusable adapters.\n\nUsage: libra COMMAND [ARGS] [--FLAGS]\n\nCommands:\n");
  for (const Command& command : AllCommands()) {
    std::printf("  %-12s %s\n", command.name, command.summary);
  }
  std::printf("\n`libra COMMAND --help` lists a command's flags. Global flag: --threads=N\n");
}

// A command's flags: those defined in its own file, the shared ones it lists,
// and the global ones of this file.
bool FlagBelongsTo(const absl::CommandLineFlag& flag, const Command& command) {
  const std::string file = flag.Filename();
  const bool shared = absl::StrContains(file, "src/cli/common_flags.cc") &&
                      absl::c_linear_search(absl::StrSplit(command.shared_flags, ','), flag.Name());
  return shared || absl::StrContains(file, command.flags_file) ||
         absl::StrContains(file, "src/cli/main.cc");
}

void PrintCommandHelp(const Command& command) {
  std::printf("Usage: %s\n\n%s\n\nFlags:\n", command.usage, command.summary);
  std::vector<std::string> lines;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!FlagBelongsTo(*flag, command)) continue;
    lines.push_back(absl::StrCat("  --", name, " (", flag->Help(), ") default: \"",
                                 flag->DefaultValue(), "\""));
  }
  std::sort(lines.begin(), lines.end());
  for (const std::string& line : lines) std::printf("%s\n", line.c_str());
}

// abseil exits with status 1 on an unknown flag or a malformed value, and
// accepts any command's flag; each of these is a usage error (exit 2) naming
// the flag. Values are parsed here once to check them; abseil parses again.
int CheckFlags(const Command& command, const std::vector<char*>& args) {
  const std::string help = absl::StrCat("; see libra ", command.name, " --help");
  for (size_t i = 1; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) continue;
    const size_t equals = arg.find('=');
    absl::string_view name = arg.substr(0, equals);
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    bool negated = false;
    if (flag == nullptr && absl::ConsumePrefix(&name, "no")) {
      flag = absl::FindCommandLineFlag(name);
      negated = flag != nullptr && flag->IsOfType<bool>();
      if (!negated) flag = nullptr;
    }
    if (flag == nullptr) {
      return UsageError(absl::StrCat("unknown flag --", arg.substr(0, equals), " for `libra ",
                                     command.name, "`", help));
    }
    if (!FlagBelongsTo(*flag, command)) {
      return UsageError(absl::StrCat("flag --", name, " is not a flag of `libra ", command.name,
                                     "`", help));
    }
    std::string value;
    if (equals != absl::string_view::npos) {
      value = std::string(arg.substr(equals + 1));
    } else if (negated || flag->IsOfType<bool>()) {
      continue;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return UsageError(absl::StrCat("flag --", name, " needs a value", help));
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return UsageError(absl::StrCat("invalid value \"", value, "\" for flag --", name, ": ",
                                     error, help));
    }
  }
  return kExitOk;
}

// `libra` itself never loads LibTorch (it starts in milliseconds); its
// LibTorch commands run in `libra-nn`, installed beside it, with the same
// arguments, as git runs git-foo.
int RunInTorchBinary(char** argv) {
  std::string self(PATH_MAX, '\0');
  const ssize_t length = readlink("/proc/self/exe", self.data(), self.size());
  self = length > 0 ? self.substr(0, length) : std::string(argv[0]);
  const std::string torch_binary = self.substr(0, self.rfind('/') + 1) + kTorchBinary;
  std::fflush(stdout);
  execv(torch_binary.c_str(), argv);
  return ReportError(absl::FailedPreconditionError(absl::StrCat(
      "`libra ", argv[1], "` runs in ", kTorchBinary, ", which should be installed beside libra: ",
      torch_binary, ": ", std::strerror(errno))));
}

int Main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    PrintTopLevelHelp();
    return argc < 2 ? kExitUsage : kExitOk;
  }
  const Command* command = nullptr;
  for (const Command& candidate : AllCommands()) {
    if (!std::strcmp(argv[1], candidate.name)) command = &candidate;
  }
  if (command == nullptr) {
    return UsageError(absl::StrCat("unknown command \"", argv[1], "\"; see libra --help"));
  }
  if (command->run == nullptr) return RunInTorchBinary(argv);
  // Hand abseil "libra CMD" as the program name and the rest as arguments.
  std::vector<char*> rest = {argv[0]};
  bool flags_ended = false;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      PrintCommandHelp(*command);
      return kExitOk;
    }
    // Flags may be spelled with dashes (--out-file); abseil's names use '_'.
    if (!flags_ended && !std::strncmp(argv[i], "--", 2)) {
      flags_ended = argv[i][2] == '\0';
      for (char* c = argv[i] + 2; *c != '\0' && *c != '='; ++c) {
        if (*c == '-') *c = '_';
      }
    }
    rest.push_back(argv[i]);
  }
  if (int usage = CheckFlags(*command, rest); usage != kExitOk) return usage;
  absl::SetProgramUsageMessage(command->usage);
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(rest.size()), rest.data());
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  ConfigureProcess(absl::GetFlag(FLAGS_threads));
  return command->run(args);
}

}  // namespace
}  // namespace libra::cli

int main(int argc, char** argv) {
  return libra::RunWithExceptionBarrier("libra", [&] { return libra::cli::Main(argc, argv); });
}
