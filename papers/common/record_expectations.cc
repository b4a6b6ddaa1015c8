// Rewrites a paper's expectations file from a run's results.json: verdicts,
// paired differences and tolerances come from the run; the reasons of known
// failures the file already had are kept. The file's diff shows what moved.
//
//   bazel run //papers/common:record_expectations --
//       papers/testbed/expectations.json results/testbed/results.json
//   (one command line)
//
// Relative paths are taken from the workspace under `bazel run`. A claim
// that does not reproduce and has no reason yet is written with an empty
// reason, which the claims test refuses until the diagnosis is written in.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "papers/common/expectations.h"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"

namespace libra::papers {
namespace {

std::string InWorkspace(const std::string& path) {
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (ws == nullptr || *ws == '\0' || std::filesystem::path(path).is_absolute()) return path;
  return absl::StrCat(ws, "/", path);
}

absl::Status Record(const std::string& expectations_path, const std::string& results_path) {
  LIBRA_ASSIGN_OR_RETURN(std::string text, ReadFile(results_path));
  nlohmann::json results = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (results.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(results_path, ": not JSON"));
  std::optional<Expectations> previous;
  if (std::filesystem::exists(expectations_path)) {
    LIBRA_ASSIGN_OR_RETURN(previous, ReadExpectations(expectations_path));
  }
  absl::StatusOr<Expectations> fresh =
      RecordExpectations(results, previous ? &*previous : nullptr);
  if (!fresh.ok()) {
    return absl::Status(fresh.status().code(),
                        absl::StrCat(results_path, ": ", fresh.status().message()));
  }
  for (const ClaimExpectation& c : fresh->claims) {
    std::printf("  %-32s %-15s A - B %+.4f (tolerance %.4f)%s\n", c.id.c_str(),
                VerdictName(c.verdict).c_str(), c.diff, c.tolerance,
                c.known_failure() && c.reason.empty() ? "  needs a reason" : "");
  }
  return WriteFileAtomically(expectations_path, ExpectationsToJson(*fresh).dump(2) + "\n");
}

}  // namespace
}  // namespace libra::papers

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: record_expectations EXPECTATIONS_JSON RESULTS_JSON\n");
    return 2;
  }
  try {
    const std::string out = libra::papers::InWorkspace(argv[1]);
    absl::Status s = libra::papers::Record(out, libra::papers::InWorkspace(argv[2]));
    if (!s.ok()) {
      std::fprintf(stderr, "record_expectations: error: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    std::printf("wrote %s\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "record_expectations: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
