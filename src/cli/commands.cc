#include "src/cli/command.h"

#include <cstdio>

namespace libra::cli {

// Each command's Run lives in its <name>_command.cc.
int RunVersion(const std::vector<std::string>& args);

absl::Span<const Command> AllCommands() {
  static const Command kCommands[] = {
      {"version", "Print libra's version.", "libra version", "src/cli/commands.cc", "", RunVersion},
  };
  return kCommands;
}

int RunVersion(const std::vector<std::string>&) {
  std::printf("libra 0.1.0\n");
  return kExitOk;
}

}  // namespace libra::cli
