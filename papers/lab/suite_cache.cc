#include "papers/lab/suite_cache.h"

#include "nlohmann/json.hpp"

namespace libra::papers {

ArtifactKey SuiteKey(const data::synthetic::SuiteOptions& o) {
  nlohmann::json config = {
      {"seed", o.seed},
      {"train_per_task", o.train_per_task},
      {"validation_per_task", o.validation_per_task},
      {"test_per_task", o.test_per_task},
      {"pretrain",
       {{"examples", o.pretrain.examples},
        {"composition_fraction", o.pretrain.composition_fraction},
        {"framed_fraction", o.pretrain.framed_fraction},
        {"validation_fraction", o.pretrain.validation_fraction}}},
      {"manifest", data::synthetic::SuiteManifest(o)},
  };
  return ArtifactKey{"synthetic_suite", std::move(config), kSuiteProducerVersion};
}

absl::StatusOr<std::string> CachedSuite(const ArtifactCache& cache,
                                        const data::synthetic::SuiteOptions& options, bool* hit) {
  return cache.GetOrBuild(
      SuiteKey(options),
      [&](const std::string& dir) { return data::synthetic::WriteSuite(dir, options); }, hit);
}

}  // namespace libra::papers
