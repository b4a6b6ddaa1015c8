// The main of a program that hands a cached artifact (a pretrained base
// model) to a Bazel rule: it gets the artifact from the machine's artifact
// cache, building it only when the cache lacks it, and copies its files into
// --out, the rule's output folder. So the build output, `./run` and every
// paper share one build of the artifact per machine.
//
//   prog --out DIR [--cache_dir DIR]
//
//   int main(int argc, char** argv) {
//     return ArtifactRuleMain(argc, argv, "pretrain_testbed_base", kFiles,
//                             [](const ArtifactCache& cache, bool* hit) { ... });
//   }
//
// The cache is --cache_dir, else ArtifactCache::DefaultRoot() (which finds
// the user's home folder without the $HOME a Bazel action lacks). Exits 2 on
// a usage error, 1 on a failure (one line on stderr, exceptions included).
#ifndef LIBRA_PAPERS_COMMON_ARTIFACT_RULE_MAIN_H_
#define LIBRA_PAPERS_COMMON_ARTIFACT_RULE_MAIN_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "papers/common/artifact_cache.h"

namespace libra::papers {

// The artifact's folder in `cache`; `hit` tells whether it was reused.
using CachedArtifactGetter =
    std::function<absl::StatusOr<std::string>(const ArtifactCache& cache, bool* hit)>;

int ArtifactRuleMain(int argc, char** argv, const std::string& program,
                     const std::vector<std::string>& files, const CachedArtifactGetter& get);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_ARTIFACT_RULE_MAIN_H_
