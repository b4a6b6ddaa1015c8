#include "papers/common/code_version.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "papers/common/subprocess.h"

namespace libra::papers {

std::string CodeVersion() {
  if (const char* stamped = std::getenv("LIBRA_CODE_VERSION"); stamped && *stamped) {
    return stamped;
  }
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  std::string dir = ws && *ws ? ws : ".";
  absl::StatusOr<std::string> out =
      CaptureProgram({"git", "-C", dir, "describe", "--always", "--dirty", "--tags"});
  if (out.ok()) {
    std::string v(absl::StripAsciiWhitespace(*out));
    if (!v.empty()) return v;
  }
  return "unknown";
}

}  // namespace libra::papers
