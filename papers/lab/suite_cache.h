// The synthetic suite (src/data/synthetic) written once per configuration
// into the artifact cache, for every paper that trains on it.
//
// The key holds the suite options and the suite's manifest (tasks, templates,
// operations, relations), so a change to any task definition rebuilds it;
// kSuiteProducerVersion covers changes the manifest does not show (samplers).
//
//   data::synthetic::SuiteOptions options;
//   options.seed = 1;
//   LIBRA_ASSIGN_OR_RETURN(std::string dir, CachedSuite(*ctx.cache, options));
//   // dir/tasks/<task>.jsonl, dir/pretrain.jsonl, dir/suite.json
#ifndef LIBRA_PAPERS_LAB_SUITE_CACHE_H_
#define LIBRA_PAPERS_LAB_SUITE_CACHE_H_

#include <string>

#include "absl/status/statusor.h"
#include "papers/common/artifact_cache.h"
#include "src/data/synthetic/suite.h"

namespace libra::papers {

inline constexpr char kSuiteProducerVersion[] = "synthetic-suite-v1";

ArtifactKey SuiteKey(const data::synthetic::SuiteOptions& options);

// The suite's folder in `cache`, written on first use. `hit` (optional)
// tells whether it was reused.
absl::StatusOr<std::string> CachedSuite(const ArtifactCache& cache,
                                        const data::synthetic::SuiteOptions& options,
                                        bool* hit = nullptr);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_LAB_SUITE_CACHE_H_
