#include "src/cli/command.h"

#include <cstdio>

namespace libra::cli {

int ReportError(const absl::Status& status, int exit_code) {
  std::fprintf(stderr, "libra: error: %s\n", std::string(status.message()).c_str());
  return exit_code;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "libra: error: %s\n", message.c_str());
  return kExitUsage;
}

}  // namespace libra::cli
