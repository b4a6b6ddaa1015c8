#include "papers/common/artifact_rule_main.h"

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "src/core/exception_barrier.h"
#include "src/core/status_macros.h"

ABSL_FLAG(std::string, out, "", "folder to copy the artifact's files into (created)");
ABSL_FLAG(std::string, cache_dir, "", "artifact cache (default: $LIBRA_CACHE, else ~/.cache/libra/artifacts)");

namespace libra::papers {
namespace {

absl::Status Publish(const std::string& program, const std::vector<std::string>& files,
                     const CachedArtifactGetter& get, const std::string& out) {
  const std::string root = absl::GetFlag(FLAGS_cache_dir);
  ArtifactCache cache(root.empty() ? ArtifactCache::DefaultRoot() : root);
  bool hit = false;
  LIBRA_ASSIGN_OR_RETURN(std::string dir, get(cache, &hit));
  std::fprintf(stderr, "%s: %s %s\n", program.c_str(), hit ? "reused" : "built", dir.c_str());
  return CopyArtifactFiles(dir, files, out);
}

}  // namespace

int ArtifactRuleMain(int argc, char** argv, const std::string& program,
                     const std::vector<std::string>& files, const CachedArtifactGetter& get) {
  return RunWithExceptionBarrier(program, [&] {
    absl::ParseCommandLine(argc, argv);
    const std::string out = absl::GetFlag(FLAGS_out);
    if (out.empty()) {
      std::fprintf(stderr, "%s: --out DIR is required\n", program.c_str());
      return 2;
    }
    absl::Status status = Publish(program, files, get, out);
    if (!status.ok()) {
      std::fprintf(stderr, "%s: error: %s\n", program.c_str(), std::string(status.message()).c_str());
      return 1;
    }
    return 0;
  });
}

}  // namespace libra::papers
